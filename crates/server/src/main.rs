use clap::Parser;
use omnichannel_server::cli::Cli;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    // The logging is installed once the configuration is read.
    let cli = Cli::parse();
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("omnichannel: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
