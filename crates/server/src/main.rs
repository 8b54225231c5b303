use clap::Parser;
use omnichannel_server::cli::Cli;
use omnichannel_server::telemetry;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("omnichannel: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
