# The omnichannel service: one static-ish binary (SQLite, the PostgreSQL client
# library and OpenSSL are compiled in) on a small Debian image, run as a user
# of its own.
#
#   docker build -t omnichannel .
#   docker run -p 8080:8080 -v omnichannel-data:/var/lib/omnichannel \
#     -e OMNICHANNEL_ADMIN_PASSWORD='change-me-at-once' omnichannel

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin omnichannel \
 && cp target/release/omnichannel /usr/local/bin/omnichannel

FROM debian:bookworm-slim
# curl for the health check; ca-certificates for providers reached over HTTPS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/omnichannel --create-home omnichannel
COPY --from=build /usr/local/bin/omnichannel /usr/local/bin/omnichannel
USER omnichannel
WORKDIR /var/lib/omnichannel
# SQLite in the volume by default; set OMNICHANNEL_DATABASE_URL=postgres://… to share one database.
ENV OMNICHANNEL_BIND=0.0.0.0:8080 \
    OMNICHANNEL_DATABASE_URL=/var/lib/omnichannel/omnichannel.db
VOLUME ["/var/lib/omnichannel"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["omnichannel"]
CMD ["serve"]
