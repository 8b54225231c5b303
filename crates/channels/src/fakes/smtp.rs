//! A local SMTP server for the `smtp` provider: it speaks enough ESMTP for
//! lettre (EHLO, STARTTLS, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET,
//! NOOP, QUIT), records every message it accepts, and refuses the stages a
//! test scripts with the code and text the test gives.
//!
//! It listens on a free port of 127.0.0.1, plain, offering `STARTTLS`, or
//! TLS from the first byte, with a self-signed certificate for `localhost`
//! and `127.0.0.1` ([`certificate_pem`]). It stops, closing every open
//! session, when dropped. A client that goes away mid-conversation ends its
//! session and nothing else.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_native_tls::native_tls;
use tokio_native_tls::{TlsAcceptor, TlsStream};

/// Test-only: a self-signed certificate for `localhost` and `127.0.0.1`,
/// valid until 2126, whose private key below is public in this repository.
/// Never trust it outside tests.
const CERTIFICATE_PEM: &str = include_str!("smtp-localhost.crt.pem");
/// Test-only: the key of [`CERTIFICATE_PEM`].
const PRIVATE_KEY_PEM: &str = include_str!("smtp-localhost.key.pem");

/// The longest command or message line the fake reads.
const MAX_LINE_BYTES: usize = 64 * 1024;
/// The largest message the fake accepts; a larger one is refused with 552.
const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;

/// The fake's certificate (PEM), for a client's extra root certificates.
pub fn certificate_pem() -> &'static [u8] {
    CERTIFICATE_PEM.as_bytes()
}

/// A step of the mail transaction whose reply a test can script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The reply to `MAIL FROM`.
    MailFrom,
    /// The reply to `RCPT TO`.
    RcptTo,
    /// The reply to the `DATA` command, before the message is sent.
    Data,
    /// The reply after the message's final `.`: whether it is taken.
    Message,
}

/// A message the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope's sender, without the angle brackets.
    pub mail_from: String,
    /// The envelope's recipients, without the angle brackets.
    pub rcpt_to: Vec<String>,
    /// The message as sent after `DATA`, dot-unstuffed, each line ended by
    /// CRLF, without the final `.` line.
    pub data: Vec<u8>,
    /// The session was encrypted (implicit TLS or after `STARTTLS`).
    pub tls: bool,
    /// The user the session authenticated as.
    pub user: Option<String>,
}

impl ReceivedMail {
    /// The raw value of the first header called `name` (in any case),
    /// unfolded, without the surrounding spaces.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.data);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = found.as_mut() {
                    value.push_str(line);
                }
            } else if found.is_some() {
                break;
            } else if let Some((field, value)) = line.split_once(':')
                && field.trim().eq_ignore_ascii_case(name)
            {
                found = Some(value.to_owned());
            }
        }
        found.map(|value| value.trim().to_owned())
    }

    /// The value of the header called `name` with its RFC 2047 encoded words
    /// (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`) decoded as UTF-8.
    pub fn decoded_header(&self, name: &str) -> Option<String> {
        self.header(name).map(|value| decode_words(&value))
    }

    /// The body after the headers, decoded from its
    /// `Content-Transfer-Encoding` (7bit, 8bit, quoted-printable or base64)
    /// as UTF-8; line ends stay CRLF.
    pub fn body(&self) -> String {
        let raw = self
            .data
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .map_or(&[][..], |at| &self.data[at + 4..]);
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let decoded = match encoding.as_str() {
            "base64" => {
                let compact: Vec<u8> = raw
                    .iter()
                    .copied()
                    .filter(|byte| !byte.is_ascii_whitespace())
                    .collect();
                BASE64.decode(compact).unwrap_or_default()
            }
            "quoted-printable" => decode_quoted_printable(raw, false),
            _ => raw.to_vec(),
        };
        String::from_utf8_lossy(&decoded).into_owned()
    }
}

/// How sessions are secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Plain,
    /// Plain, offering `STARTTLS`.
    Starttls,
    /// TLS from the first byte.
    Tls,
}

/// A scripted reply.
#[derive(Debug, Clone)]
struct Refusal {
    stage: Stage,
    reply: String,
    /// Used once, then forgotten.
    once: bool,
}

/// What the listener and the sessions share with the test.
struct Shared {
    security: Security,
    acceptor: Option<TlsAcceptor>,
    credentials: Mutex<Option<(String, String)>>,
    refusals: Mutex<Vec<Refusal>>,
    delays: Mutex<Vec<(Stage, Duration)>>,
    messages: watch::Sender<Vec<ReceivedMail>>,
    connections: AtomicUsize,
}

impl Shared {
    fn credentials(&self) -> Option<(String, String)> {
        self.credentials.lock().unwrap().clone()
    }

    /// The scripted reply for `stage`, if any; a one-time one is used up.
    fn refusal(&self, stage: Stage) -> Option<String> {
        let mut refusals = self.refusals.lock().unwrap();
        let at = refusals.iter().position(|r| r.stage == stage)?;
        if refusals[at].once {
            Some(refusals.remove(at).reply)
        } else {
            Some(refusals[at].reply.clone())
        }
    }

    /// Waits as scripted before the reply to `stage`, if it is.
    async fn delay(&self, stage: Stage) {
        let delay = {
            let mut delays = self.delays.lock().unwrap();
            let at = delays.iter().position(|(delayed, _)| *delayed == stage);
            at.map(|at| delays.remove(at).1)
        };
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }
}

/// The fake SMTP server; see the module's documentation.
pub struct FakeSmtp {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl FakeSmtp {
    /// A plain server: no `STARTTLS`, no authentication.
    pub async fn start() -> Self {
        Self::start_as(Security::Plain).await
    }

    /// A plain server that offers `STARTTLS`; it offers `AUTH` (when
    /// [`expect_credentials`](Self::expect_credentials) is used) only once
    /// the session is encrypted, and refuses it before with 538.
    pub async fn start_with_starttls() -> Self {
        Self::start_as(Security::Starttls).await
    }

    /// A server speaking TLS from the first byte (SMTPS).
    pub async fn start_with_tls() -> Self {
        Self::start_as(Security::Tls).await
    }

    async fn start_as(security: Security) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = (security != Security::Plain).then(|| {
            let identity = native_tls::Identity::from_pkcs8(
                CERTIFICATE_PEM.as_bytes(),
                PRIVATE_KEY_PEM.as_bytes(),
            )
            .expect("the fixture identity loads");
            TlsAcceptor::from(native_tls::TlsAcceptor::new(identity).expect("a TLS acceptor"))
        });
        let shared = Arc::new(Shared {
            security,
            acceptor,
            credentials: Mutex::new(None),
            refusals: Mutex::new(Vec::new()),
            delays: Mutex::new(Vec::new()),
            messages: watch::Sender::new(Vec::new()),
            connections: AtomicUsize::new(0),
        });
        let accepting = Arc::clone(&shared);
        let accept = tokio::spawn(async move {
            // Dropped with this task when the fake stops: every session ends.
            let mut sessions = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                accepting.connections.fetch_add(1, Ordering::SeqCst);
                while sessions.try_join_next().is_some() {}
                let shared = Arc::clone(&accepting);
                sessions.spawn(async move {
                    // A session ends on the client's QUIT, its going away or
                    // a broken stream, none of which concerns the test.
                    let _ = serve(stream, &shared).await;
                });
            }
        });
        Self {
            addr,
            shared,
            accept,
        }
    }

    /// Offers `AUTH PLAIN LOGIN` and takes only these credentials (535
    /// otherwise); a message before authentication is refused with 530.
    pub fn expect_credentials(self, user: &str, password: &str) -> Self {
        *self.shared.credentials.lock().unwrap() = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Answers the next `stage` of any session with `code text`, e.g.
    /// `refuse_next(Stage::RcptTo, 550, "5.1.1 No such user")`. Scripted
    /// replies are used in the order they were given.
    pub fn refuse_next(&self, stage: Stage, code: u16, text: &str) {
        self.script(stage, code, text, true);
    }

    /// Answers every `stage` from now on with `code text`.
    pub fn refuse_all(&self, stage: Stage, code: u16, text: &str) {
        self.script(stage, code, text, false);
    }

    /// Waits `delay` before the next reply to `stage` of any session, as a
    /// slow server does.
    pub fn delay_next(&self, stage: Stage, delay: Duration) {
        self.shared.delays.lock().unwrap().push((stage, delay));
    }

    fn script(&self, stage: Stage, code: u16, text: &str, once: bool) {
        self.shared.refusals.lock().unwrap().push(Refusal {
            stage,
            reply: format!("{code} {text}"),
            once,
        });
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> String {
        self.addr.ip().to_string()
    }

    /// The port it listens on, a free one.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The messages accepted so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.messages.borrow().clone()
    }

    /// The messages, once at least `count` were accepted; panics when they
    /// are not there within `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let mut receiver = self.shared.messages.subscribe();
        let arrived = tokio::time::timeout(timeout, receiver.wait_for(|m| m.len() >= count)).await;
        match arrived {
            Ok(Ok(messages)) => messages.clone(),
            _ => panic!(
                "expected {count} messages within {timeout:?}, got {}",
                self.messages().len()
            ),
        }
    }

    /// How many connections the fake accepted.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A client's stream, plain or encrypted.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A session's stream with what was read from it and not used yet.
struct Connection {
    stream: Stream,
    buffer: Vec<u8>,
}

impl Connection {
    fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// The next line without its end; `None` when the client went away.
    async fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(at) = self.buffer.iter().position(|&byte| byte == b'\n') {
                let mut line: Vec<u8> = self.buffer.drain(..=at).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            if self.buffer.len() > MAX_LINE_BYTES {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            let mut chunk = [0; 4096];
            let read = match &mut self.stream {
                Stream::Plain(stream) => stream.read(&mut chunk).await?,
                Stream::Tls(stream) => stream.read(&mut chunk).await?,
            };
            if read == 0 {
                return Ok(None);
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }

    /// The next line as text, lossily.
    async fn read_text(&mut self) -> io::Result<Option<String>> {
        Ok(self
            .read_line()
            .await?
            .map(|line| String::from_utf8_lossy(&line).into_owned()))
    }

    /// Sends one reply, made of the lines of `text`.
    async fn reply(&mut self, text: &str) -> io::Result<()> {
        let wire = format!("{text}\r\n");
        match &mut self.stream {
            Stream::Plain(stream) => {
                stream.write_all(wire.as_bytes()).await?;
                stream.flush().await
            }
            Stream::Tls(stream) => {
                stream.write_all(wire.as_bytes()).await?;
                stream.flush().await
            }
        }
    }

    /// The same session, encrypted; what the client sent before is dropped.
    async fn upgrade(self, acceptor: &TlsAcceptor) -> io::Result<Self> {
        match self.stream {
            Stream::Plain(stream) => Ok(Self {
                stream: Stream::Tls(Box::new(accept(acceptor, stream).await?)),
                buffer: Vec::new(),
            }),
            Stream::Tls(_) => Err(io::Error::other("already encrypted")),
        }
    }
}

async fn accept(acceptor: &TlsAcceptor, stream: TcpStream) -> io::Result<TlsStream<TcpStream>> {
    acceptor.accept(stream).await.map_err(io::Error::other)
}

/// What a session knows; EHLO and STARTTLS start it afresh.
#[derive(Default)]
struct Session {
    greeted: bool,
    user: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

impl Session {
    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }
}

/// One client's conversation, until QUIT or the client goes away.
async fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut connection = Connection {
        stream: match (&shared.acceptor, shared.security) {
            (Some(acceptor), Security::Tls) => {
                Stream::Tls(Box::new(accept(acceptor, stream).await?))
            }
            _ => Stream::Plain(stream),
        },
        buffer: Vec::new(),
    };
    let mut session = Session::default();
    connection.reply("220 localhost ESMTP fake").await?;
    while let Some(line) = connection.read_text().await? {
        let (verb, argument) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let argument = argument.trim();
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                session = Session {
                    greeted: true,
                    user: session.user,
                    ..Session::default()
                };
                let reply = ehlo_reply(shared, connection.is_tls(), argument);
                connection.reply(&reply).await?;
            }
            "HELO" => {
                session.greeted = true;
                session.reset_transaction();
                connection.reply("250 localhost").await?;
            }
            "STARTTLS" => match &shared.acceptor {
                Some(acceptor) if shared.security == Security::Starttls && !connection.is_tls() => {
                    connection.reply("220 2.0.0 Ready to start TLS").await?;
                    connection = connection.upgrade(acceptor).await?;
                    session = Session::default();
                }
                _ => connection.reply("502 5.5.1 STARTTLS not offered").await?,
            },
            "AUTH" => {
                let Some(reply) =
                    authenticate(shared, &mut connection, &mut session, argument).await?
                else {
                    return Ok(());
                };
                connection.reply(&reply).await?;
            }
            "MAIL" => {
                shared.delay(Stage::MailFrom).await;
                let reply = if !session.greeted {
                    "503 5.5.1 EHLO first".to_owned()
                } else if shared.credentials().is_some() && session.user.is_none() {
                    "530 5.7.0 Authentication required".to_owned()
                } else if session.mail_from.is_some() {
                    "503 5.5.1 Nested MAIL command".to_owned()
                } else if let Some(refusal) = shared.refusal(Stage::MailFrom) {
                    refusal
                } else if let Some(address) = path(argument, "FROM:") {
                    session.mail_from = Some(address);
                    "250 2.1.0 Ok".to_owned()
                } else {
                    "501 5.5.4 Syntax: MAIL FROM:<address>".to_owned()
                };
                connection.reply(&reply).await?;
            }
            "RCPT" => {
                shared.delay(Stage::RcptTo).await;
                let reply = if session.mail_from.is_none() {
                    "503 5.5.1 MAIL first".to_owned()
                } else if let Some(refusal) = shared.refusal(Stage::RcptTo) {
                    refusal
                } else if let Some(address) = path(argument, "TO:") {
                    session.rcpt_to.push(address);
                    "250 2.1.5 Ok".to_owned()
                } else {
                    "501 5.5.4 Syntax: RCPT TO:<address>".to_owned()
                };
                connection.reply(&reply).await?;
            }
            "DATA" => {
                shared.delay(Stage::Data).await;
                if session.rcpt_to.is_empty() {
                    connection.reply("503 5.5.1 RCPT first").await?;
                } else if let Some(refusal) = shared.refusal(Stage::Data) {
                    connection.reply(&refusal).await?;
                } else {
                    connection
                        .reply("354 End data with <CR><LF>.<CR><LF>")
                        .await?;
                    let Some(data) = read_data(&mut connection).await? else {
                        return Ok(());
                    };
                    shared.delay(Stage::Message).await;
                    let reply = if data.len() > MAX_MESSAGE_BYTES {
                        "552 5.3.4 Message too big".to_owned()
                    } else if let Some(refusal) = shared.refusal(Stage::Message) {
                        refusal
                    } else {
                        let mail = ReceivedMail {
                            mail_from: session.mail_from.clone().unwrap_or_default(),
                            rcpt_to: session.rcpt_to.clone(),
                            data,
                            tls: connection.is_tls(),
                            user: session.user.clone(),
                        };
                        shared.messages.send_modify(|messages| messages.push(mail));
                        "250 2.0.0 Ok: queued".to_owned()
                    };
                    session.reset_transaction();
                    connection.reply(&reply).await?;
                }
            }
            "RSET" => {
                session.reset_transaction();
                connection.reply("250 2.0.0 Ok").await?;
            }
            "NOOP" => connection.reply("250 2.0.0 Ok").await?,
            "QUIT" => {
                connection.reply("221 2.0.0 Bye").await?;
                return Ok(());
            }
            _ => connection.reply("500 5.5.2 Command not recognized").await?,
        }
    }
    Ok(())
}

/// The multi-line answer to EHLO, with the extensions the session offers.
fn ehlo_reply(shared: &Shared, tls: bool, client: &str) -> String {
    let mut lines = vec![
        format!("localhost greets {client}"),
        "8BITMIME".to_owned(),
        "SMTPUTF8".to_owned(),
        "ENHANCEDSTATUSCODES".to_owned(),
    ];
    if shared.security == Security::Starttls && !tls {
        lines.push("STARTTLS".to_owned());
    }
    if shared.credentials().is_some() && (tls || shared.security != Security::Starttls) {
        lines.push("AUTH PLAIN LOGIN".to_owned());
    }
    let last = lines.len() - 1;
    let mut reply = String::new();
    for (at, line) in lines.iter().enumerate() {
        let separator = if at == last { ' ' } else { '-' };
        let end = if at == last { "" } else { "\r\n" };
        let _ = write!(reply, "250{separator}{line}{end}");
    }
    reply
}

/// Runs an AUTH exchange; the final reply, or `None` when the client went
/// away.
async fn authenticate(
    shared: &Shared,
    connection: &mut Connection,
    session: &mut Session,
    argument: &str,
) -> io::Result<Option<String>> {
    let Some(expected) = shared.credentials() else {
        return Ok(Some("502 5.5.1 AUTH not offered".to_owned()));
    };
    if shared.security == Security::Starttls && !connection.is_tls() {
        return Ok(Some(
            "538 5.7.11 Encryption required for requested authentication mechanism".to_owned(),
        ));
    }
    if session.user.is_some() {
        return Ok(Some("503 5.5.1 Already authenticated".to_owned()));
    }
    let mut words = argument.split_whitespace();
    let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
    let initial = words.next().map(str::to_owned);
    let given = match mechanism.as_str() {
        "PLAIN" => {
            let response = match initial {
                Some(response) => response,
                None => {
                    connection.reply("334 ").await?;
                    match connection.read_text().await? {
                        Some(response) => response,
                        None => return Ok(None),
                    }
                }
            };
            decode_text(&response).and_then(|plain| {
                let mut parts = plain.split('\0');
                let _authorization = parts.next()?;
                let user = parts.next()?.to_owned();
                let password = parts.next()?.to_owned();
                Some((user, password))
            })
        }
        "LOGIN" => {
            let user = match initial {
                Some(user) => user,
                None => {
                    connection.reply("334 VXNlcm5hbWU6").await?;
                    match connection.read_text().await? {
                        Some(user) => user,
                        None => return Ok(None),
                    }
                }
            };
            connection.reply("334 UGFzc3dvcmQ6").await?;
            let Some(password) = connection.read_text().await? else {
                return Ok(None);
            };
            decode_text(&user).zip(decode_text(&password))
        }
        _ => {
            return Ok(Some(
                "504 5.5.4 Unrecognized authentication type".to_owned(),
            ));
        }
    };
    Ok(Some(match given {
        None => "501 5.5.2 Cannot decode the response".to_owned(),
        Some(given) if given == expected => {
            session.user = Some(given.0);
            "235 2.7.0 Authentication successful".to_owned()
        }
        Some(_) => "535 5.7.8 Authentication credentials invalid".to_owned(),
    }))
}

/// The lines after DATA up to the lone `.`, dot-unstuffed; `None` when the
/// client went away first. Past the size limit, lines are read and dropped.
async fn read_data(connection: &mut Connection) -> io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    loop {
        let Some(line) = connection.read_line().await? else {
            return Ok(None);
        };
        if line == b"." {
            return Ok(Some(data));
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if data.len() <= MAX_MESSAGE_BYTES {
            data.extend_from_slice(line);
            data.extend_from_slice(b"\r\n");
        }
    }
}

/// The address of `FROM:<address>` or `TO:<address>`, parameters ignored.
fn path(argument: &str, keyword: &str) -> Option<String> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_owned())
}

fn decode_text(base64: &str) -> Option<String> {
    let bytes = BASE64.decode(base64.trim()).ok()?;
    String::from_utf8(bytes).ok()
}

/// Decodes the RFC 2047 encoded words of a header value; the space between
/// two encoded words is dropped, as the RFC says.
fn decode_words(value: &str) -> String {
    let mut decoded = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("=?") {
        let (before, word) = rest.split_at(start);
        match encoded_word(word) {
            Some((bytes, length)) => {
                if pending.is_empty() || !before.trim().is_empty() {
                    decoded.push_str(&String::from_utf8_lossy(&pending));
                    pending.clear();
                    decoded.push_str(before);
                }
                pending.extend_from_slice(&bytes);
                rest = &word[length..];
            }
            None => {
                decoded.push_str(&String::from_utf8_lossy(&pending));
                pending.clear();
                decoded.push_str(before);
                decoded.push_str("=?");
                rest = &word[2..];
            }
        }
    }
    decoded.push_str(&String::from_utf8_lossy(&pending));
    decoded.push_str(rest);
    decoded
}

/// The bytes of the encoded word `text` starts with, and its length.
fn encoded_word(text: &str) -> Option<(Vec<u8>, usize)> {
    let inner = text.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let payload = &inner[..end];
    let bytes = match encoding {
        "B" | "b" => BASE64.decode(payload).ok()?,
        "Q" | "q" => decode_quoted_printable(payload.as_bytes(), true),
        _ => return None,
    };
    let length = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((bytes, length))
}

/// Quoted-printable (RFC 2045) or, with `underscore_is_space`, the `Q`
/// encoding of headers (RFC 2047).
fn decode_quoted_printable(input: &[u8], underscore_is_space: bool) -> Vec<u8> {
    let mut output = Vec::with_capacity(input.len());
    let mut at = 0;
    while at < input.len() {
        match input[at] {
            b'=' if input[at + 1..].starts_with(b"\r\n") => at += 3,
            b'=' if input[at + 1..].starts_with(b"\n") => at += 2,
            b'=' => {
                let byte = input
                    .get(at + 1..at + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                match byte {
                    Some(byte) => {
                        output.push(byte);
                        at += 3;
                    }
                    None => {
                        output.push(b'=');
                        at += 1;
                    }
                }
            }
            b'_' if underscore_is_space => {
                output.push(b' ');
                at += 1;
            }
            byte => {
                output.push(byte);
                at += 1;
            }
        }
    }
    output
}
