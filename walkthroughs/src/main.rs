//! `cargo walkthroughs [NAME]`: builds the examples, then runs their
//! walkthroughs in lambda-sandbox, printing each as it happens.
//!
//! `--readmes` writes the READMEs' output blocks from fresh runs, and
//! `--check-readmes` fails when a block differs from a fresh run (see
//! `readmes.rs`). `--prebuilt DIR` takes the examples' binaries from DIR
//! instead of building them (`target/debug` after `cargo test`).

mod readmes;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lambda_sandbox::Status;
use walkthroughs::{Binaries, Invocation, Place, appconfig, lifecycle, s3_log_shipper, streaming};

const NAMES: [&str; 8] = [
    "lifecycle",
    "s3-log-shipper",
    "appconfig",
    "lifecycle-managed-instances",
    "s3-log-shipper-managed-instances",
    "appconfig-managed-instances",
    "lifecycle-snapstart",
    "custom-runtime-streaming",
];
const USAGE: &str = "usage: cargo walkthroughs [NAME] [--prebuilt DIR]\n       cargo walkthroughs --readmes|--check-readmes [--prebuilt DIR]\nNAME: lifecycle, s3-log-shipper, appconfig, or one of them followed by -managed-instances, lifecycle-snapstart, custom-runtime-streaming";

/// What the command line asks for.
#[derive(Default)]
struct Request {
    names: Vec<&'static str>,
    prebuilt: Option<PathBuf>,
    readmes: Option<Readmes>,
}

enum Readmes {
    Write,
    Check,
}

fn parse(args: &[String]) -> Result<Request, String> {
    let mut request = Request::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--prebuilt" => {
                let dir = args.next().ok_or("--prebuilt needs a folder")?;
                request.prebuilt =
                    Some(std::path::absolute(dir).unwrap_or_else(|_| PathBuf::from(dir)));
            }
            "--readmes" => request.readmes = Some(Readmes::Write),
            "--check-readmes" => request.readmes = Some(Readmes::Check),
            name => match NAMES.iter().find(|n| **n == name) {
                Some(known) if request.names.is_empty() => request.names.push(known),
                _ => {
                    return Err(format!(
                        "{name:?} is not a walkthrough or an option; the walkthroughs are: {}",
                        NAMES.join(", ")
                    ));
                }
            },
        }
    }
    if request.names.is_empty() {
        request.names = NAMES.to_vec();
    }
    Ok(request)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let request = match parse(&args) {
        Ok(request) => request,
        Err(err) => {
            eprintln!("walkthroughs: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let binaries = match &request.prebuilt {
        Some(dir) => Binaries::in_folder(dir),
        None => match build() {
            Ok(binaries) => binaries,
            Err(err) => {
                eprintln!("walkthroughs: {err:#}");
                return ExitCode::from(2);
            }
        },
    };
    if let Some(readmes) = request.readmes {
        // The children run with the binaries just built, or the ones given.
        let dir = binaries.folder();
        let done = match readmes {
            Readmes::Write => readmes::write(&workspace(), dir),
            Readmes::Check => readmes::check(&workspace(), dir),
        };
        return match done {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("walkthroughs: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    // Each walkthrough leaves its files here, for a look afterwards.
    let folder = workspace().join("target/walkthroughs");
    for name in request.names {
        let place = Place::Folder(folder.join(name));
        let outcome = match name {
            "lifecycle" => lifecycle_walkthrough(&binaries, place).await,
            "s3-log-shipper" => shipper_walkthrough(&binaries, place).await,
            "appconfig" => appconfig_walkthrough(&binaries, place).await,
            "lifecycle-managed-instances" => lifecycle_managed_walkthrough(&binaries, place).await,
            "s3-log-shipper-managed-instances" => {
                shipper_managed_walkthrough(&binaries, place).await
            }
            "appconfig-managed-instances" => appconfig_managed_walkthrough(&binaries, place).await,
            "lifecycle-snapstart" => lifecycle_snapstart_walkthrough(&binaries, place).await,
            _ => streaming_walkthrough(&binaries, place).await,
        }
        .and_then(|(succeeded, picture)| {
            let path = picture_path(name);
            std::fs::write(&path, picture)?;
            let shown = path.strip_prefix(workspace()).unwrap_or(&path);
            println!(
                "
the run, drawn: {}",
                shown.display()
            );
            Ok(succeeded)
        });
        match outcome {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("walkthroughs: an invocation of {name} failed");
                return ExitCode::FAILURE;
            }
            Err(err) => {
                eprintln!("walkthroughs: {name}: {err:#}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

/// Where a walkthrough's picture is written (the README check reads it there).
pub fn picture_path(name: &str) -> PathBuf {
    workspace()
        .join("target/walkthroughs")
        .join(name)
        .join("timeline.svg")
}

/// Whether every invocation succeeded, and the run's picture.
type Outcome = anyhow::Result<(bool, String)>;

async fn lifecycle_walkthrough(binaries: &Binaries, place: Place) -> Outcome {
    println!(
        "\n== lifecycle: an external extension, a hand-written runtime, Init, two invokes, Shutdown ==\n"
    );
    let settings = lifecycle::Settings {
        work_ms: 1000,
        echo: true,
        place,
    };
    let story = lifecycle::run(binaries, &settings).await?;
    Ok((all_succeeded(&story.invocations), story.picture))
}

async fn shipper_walkthrough(binaries: &Binaries, place: Place) -> Outcome {
    println!(
        "\n== s3-log-shipper: the Telemetry API streams the logs, the extension writes them to a local S3 bucket ==\n"
    );
    let settings = s3_log_shipper::Settings {
        echo: true,
        place,
        listener_port: None,
    };
    let story = s3_log_shipper::run(binaries, &settings).await?;
    println!(
        "\n{} objects landed in {}:",
        story.objects.len(),
        story.bucket_dir.display()
    );
    for object in &story.objects {
        println!("  {}", object.key);
    }
    if let Some(first) = story.objects.first() {
        println!("\nthe first lines of {}:", first.key);
        for line in first.text.lines().take(4) {
            println!("  {line}");
        }
    }
    Ok((all_succeeded(&story.invocations), story.picture))
}

async fn appconfig_walkthrough(binaries: &Binaries, place: Place) -> Outcome {
    println!(
        "\n== appconfig: two functions read their log level through the AppConfig agent; a new version reaches both ==\n"
    );
    let settings = appconfig::Settings { echo: true, place };
    let story = appconfig::run(binaries, &settings).await?;
    let succeeded = story
        .rounds
        .iter()
        .flat_map(|round| &round.answers)
        .all(|answer| answer.invocation.result.status == Status::Success);
    Ok((succeeded, story.picture))
}

async fn lifecycle_managed_walkthrough(binaries: &Binaries, place: Place) -> Outcome {
    println!(
        "\n== lifecycle on Lambda Managed Instances: {} invocations at once, a SHUTDOWN-only extension with its own timer ==\n",
        lifecycle::CONCURRENT_INVOKES
    );
    let settings = lifecycle::Settings {
        work_ms: 100,
        echo: true,
        place,
    };
    let story = lifecycle::run_managed_instances(binaries, &settings).await?;
    Ok((all_succeeded(&story.invocations), story.picture))
}

async fn lifecycle_snapstart_walkthrough(binaries: &Binaries, place: Place) -> Outcome {
    println!(
        "\n== lifecycle with SnapStart: Init once, a snapshot, {} environments restored from it ==\n",
        lifecycle::RESTORES
    );
    let settings = lifecycle::Settings {
        work_ms: 200,
        echo: true,
        place,
    };
    let story = lifecycle::run_snapstart(binaries, &settings).await?;
    Ok((all_succeeded(&story.invocations), story.picture))
}

async fn streaming_walkthrough(binaries: &Binaries, place: Place) -> Outcome {
    println!(
        "\n== custom-runtime streaming: a response sent in streaming mode reaches the caller chunk by chunk ==\n"
    );
    let settings = streaming::Settings { echo: true, place };
    let story = streaming::run(binaries, &settings).await?;
    Ok((
        all_succeeded(std::slice::from_ref(&story.invocation)),
        story.picture,
    ))
}

async fn shipper_managed_walkthrough(binaries: &Binaries, place: Place) -> Outcome {
    println!(
        "\n== s3-log-shipper on Lambda Managed Instances: {} invocations at once, uploads on the shipper's timer ==\n",
        s3_log_shipper::CONCURRENT_INVOKES
    );
    let settings = s3_log_shipper::Settings {
        echo: true,
        place,
        listener_port: None,
    };
    let story = s3_log_shipper::run_managed_instances(
        binaries,
        &settings,
        s3_log_shipper::ShutdownAt::AfterTimerUpload,
    )
    .await?;
    println!(
        "\n{} object(s) landed in {}:",
        story.objects.len(),
        story.bucket_dir.display()
    );
    for object in &story.objects {
        println!("  {} ({} records)", object.key, object.text.lines().count());
    }
    Ok((all_succeeded(&story.invocations), story.picture))
}

async fn appconfig_managed_walkthrough(binaries: &Binaries, place: Place) -> Outcome {
    println!(
        "\n== appconfig on Lambda Managed Instances: {} invocations at once, one cold start ==\n",
        appconfig::CONCURRENT_INVOKES
    );
    let settings = appconfig::Settings { echo: true, place };
    let story = appconfig::run_managed_instances(binaries, &settings).await?;
    Ok((all_succeeded(&story.invocations), story.picture))
}

fn all_succeeded(invocations: &[Invocation]) -> bool {
    invocations
        .iter()
        .all(|i| i.result.status == Status::Success)
}

/// The repository, where the examples are built.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the walkthroughs sit in the workspace")
        .to_path_buf()
}

/// Builds the examples' binaries (release, as they would be deployed).
fn build() -> anyhow::Result<Binaries> {
    let packages = [
        "custom-runtime",
        "lifecycle-logger",
        "s3-log-shipper",
        "appconfig-reader",
    ];
    println!(
        "building {} (cargo build --release)...",
        packages.join(", ")
    );
    let root = workspace();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command
        .current_dir(&root)
        .args(["build", "--release", "--quiet"]);
    for package in packages {
        command.args(["-p", package]);
    }
    let status = command
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run cargo: {e}"))?;
    anyhow::ensure!(status.success(), "cargo build failed ({status})");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(Binaries::in_folder(target.join("release")))
}
