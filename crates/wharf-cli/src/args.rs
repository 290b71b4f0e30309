//! Command-line syntax: `wharf build` follows `docker build` /
//! `buildx build` conventions.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Daemonless builder of Windows and Linux container images.
#[derive(Debug, Parser)]
#[command(name = "wharf", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile or ZImagefile.
    Build(BuildArgs),
    /// Print the resolved build plan as JSON (same options as build).
    Plan(BuildArgs),
    /// Fetch an image from its registry into the store.
    Pull(PullArgs),
    /// Send an image from the store to its registry.
    Push(PushArgs),
    /// List the images in the store.
    Images(StoreArgs),
    /// Show an image of the store: manifest, config, platform, layers.
    Inspect(InspectArgs),
    /// Delete what no tagged image uses: blobs, cache records, unpacked
    /// layers, temporary files (and, with --cache, RUN cache mounts).
    Prune(PruneArgs),
}

/// `wharf prune`.
#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Also empty the RUN cache mounts (`RUN --mount=type=cache`).
    #[arg(long)]
    pub cache: bool,
}

/// Where the image store is.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The image store (default: $WHARF_STORE, else the user's data
    /// directory).
    #[arg(long, value_name = "DIR", env = "WHARF_STORE")]
    pub store: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PullArgs {
    /// Image reference, e.g. busybox:1.36 or localhost:5000/app@sha256:...
    pub reference: String,
    /// Platform to pull (default: this host's).
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// A registry (host[:port]) to reach over plain HTTP.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// The image's name in the store.
    pub source: String,
    /// Where to push it (default: the same name).
    pub target: Option<String>,
    /// Push foreign (non-distributable) layers too.
    #[arg(long)]
    pub push_foreign_layers: bool,
    #[command(flatten)]
    pub store: StoreArgs,
    /// A registry (host[:port]) to reach over plain HTTP.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// The image's name in the store.
    pub reference: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `--progress` styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// A live view on a terminal, plain lines otherwise.
    Auto,
    /// Plain log lines.
    Plain,
    /// One JSON event per line.
    Json,
    /// Nothing (what `-q` sets).
    Quiet,
}

#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Build context directory.
    #[arg(value_name = "CONTEXT")]
    pub context: PathBuf,

    /// Build file (Dockerfile or ZImagefile); `-` reads a Dockerfile from
    /// stdin. Default: CONTEXT/Dockerfile, then CONTEXT/ZImagefile.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<String>,

    /// Build from a runtime template instead of a build file: node20,
    /// node22 (node), python312, python313 (python), rust (rs), go
    /// (golang), dotnet, deno, bun. Its base images are build arguments.
    #[arg(
        long = "runtime-template",
        value_name = "NAME",
        conflicts_with_all = ["file", "detect_runtime"]
    )]
    pub runtime_template: Option<String>,

    /// Build from the runtime template the context's files point to
    /// (package.json, Cargo.toml, go.mod, requirements.txt, ...), with no
    /// build file.
    #[arg(long = "detect-runtime", conflicts_with = "file")]
    pub detect_runtime: bool,

    /// Name and optionally a tag (name:tag); may be repeated.
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,

    /// Set a build-time variable; `--build-arg K` takes K from the
    /// environment.
    #[arg(long = "build-arg", value_name = "K[=V]")]
    pub build_args: Vec<String>,

    /// The stage to build (name or number); the last by default.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,

    /// Target platforms, comma separated or repeated, e.g.
    /// linux/amd64,windows/amd64:10.0.20348.
    #[arg(long = "platform", value_name = "P[,P...]", value_delimiter = ',')]
    pub platforms: Vec<String>,

    /// Output: type=oci,dest=DIR|FILE.tar · type=docker,dest=FILE.tar ·
    /// type=registry.
    #[arg(short = 'o', long = "output", value_name = "type=...")]
    pub outputs: Vec<String>,

    /// Shorthand for --output type=registry.
    #[arg(long)]
    pub push: bool,

    /// Do not use the instruction cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Compression of new layers: gzip[:LEVEL] (default gzip:6; gzip:1 packs
    /// about twice as fast, a fifth larger), zstd[:LEVEL] or uncompressed.
    #[arg(long, value_name = "ALGO[:LEVEL]", default_value = "gzip")]
    pub compression: String,

    /// Progress output style.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,

    /// A named context: NAME=DIR or NAME=docker-image://REF, read by
    /// `FROM NAME` (images), `COPY --from=NAME` and `--mount from=NAME`
    /// (images) instead of a stage or image of that name. May be repeated.
    #[arg(long = "build-context", value_name = "NAME=DIR|docker-image://REF")]
    pub build_contexts: Vec<String>,

    /// Export the build's cache: type=registry,ref=REF[,mode=min|max] or
    /// type=local,dest=DIR[,mode=min|max] (an OCI layout); a bare REF is a
    /// registry. `min` (default) exports the steps of the stages the images
    /// contain, `max` every step. May be repeated.
    #[arg(long = "cache-to", value_name = "type=registry,ref=REF[,mode=max]")]
    pub cache_to: Vec<String>,

    /// Read a shared build cache: type=registry,ref=REF or
    /// type=local,src=DIR; a bare REF is a registry. A cache that is
    /// missing, damaged or of another format is a warning. May be repeated.
    #[arg(long = "cache-from", value_name = "type=registry,ref=REF")]
    pub cache_from: Vec<String>,

    /// How many stages may build at the same time (independent stages,
    /// and the stages of each platform). Default: the number of cores.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// Print only the image ID on stdout (see --iidfile), nothing else.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Write the image ID to FILE: the configuration digest of a single
    /// image that is not pushed, else the manifest (or index) digest, as
    /// buildx does.
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,

    /// Write the result as JSON to FILE, with BuildKit's keys:
    /// containerimage.digest, containerimage.descriptor,
    /// containerimage.config.digest (one platform) and image.name.
    #[arg(long = "metadata-file", value_name = "FILE")]
    pub metadata_file: Option<PathBuf>,

    /// Add an annotation: [TYPE:]KEY=VALUE, TYPE manifest (the default),
    /// index or manifest-descriptor, with an optional platform
    /// (manifest[linux/arm64]:KEY=VALUE). May be repeated.
    #[arg(long = "annotation", value_name = "[TYPE:]K=V")]
    pub annotations: Vec<String>,

    /// Attach an SPDX SBOM of each image's contents: true or false
    /// (docs/attestations.md). The result is an index, as with buildx.
    #[arg(long, value_name = "true|false")]
    pub sbom: Option<String>,

    /// Attach SLSA v1 provenance: true (mode=min), false, mode=min or
    /// mode=max (adds the build arguments whose names do not look secret).
    #[arg(long, value_name = "true|false|mode=min|max")]
    pub provenance: Option<String>,

    /// An attestation, buildx's spelling: type=sbom[,disabled=true] or
    /// type=provenance[,mode=min|max][,disabled=true]. May be repeated.
    #[arg(long = "attest", value_name = "type=sbom|provenance[,...]")]
    pub attest: Vec<String>,

    /// Resolve base images from their registry even when the store has
    /// them. Wharf always does (the store is not consulted for FROM), so
    /// this only makes that explicit.
    #[arg(long)]
    pub pull: bool,

    /// Set a label on the image; may be repeated.
    #[arg(long = "label", value_name = "K=V")]
    pub labels: Vec<String>,

    /// Stop after planning and print the plan as JSON.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub store: StoreArgs,

    /// A registry (host[:port]) to reach over plain HTTP; loopback
    /// registries always are. May be repeated.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,

    /// A secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR
    /// (never stored in the image, its history or the cache). May be repeated.
    #[arg(long = "secret", value_name = "id=ID,src=FILE|env=VAR")]
    pub secrets: Vec<String>,

    /// Network of RUN instructions without --network: host (default, as
    /// buildah's chroot isolation) or none.
    #[arg(long = "network", value_enum, default_value_t = RunNetwork::Host)]
    pub network: RunNetwork,

    /// Run Linux RUN instructions with an external OCI runtime (runc; crun
    /// 1.x fails on hosts with hybrid cgroups) instead of the embedded
    /// sandbox.
    #[arg(long = "runtime", value_name = "runc|PATH")]
    pub runtime: Option<PathBuf>,

    /// Run Windows RUN lines that call apt-get/apk/yum/dnf as written,
    /// instead of translating them to Chocolatey.
    #[arg(long = "no-choco-translation")]
    pub no_choco_translation: bool,

    /// Download the layers of Windows base images so that COPY, ADD and
    /// WORKDIR layers re-declaring a directory the base has (for example
    /// C:\Windows\System32) keep its security descriptor, attributes and
    /// spelling. Without it the base is not downloaded and such
    /// directories get default metadata, as in BuildKit.
    #[arg(long = "read-windows-base")]
    pub read_windows_base: bool,

    /// Add a line to the /etc/hosts of Linux RUN: HOST:IP or HOST=IP
    /// (IPv6 may be in brackets). May be repeated.
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_hosts: Vec<String>,

    /// Size of /dev/shm in Linux RUN, e.g. 128m or 1g (default 64m).
    #[arg(long = "shm-size", value_name = "SIZE")]
    pub shm_size: Option<String>,

    /// A resource limit of Linux RUN, as Docker writes it:
    /// TYPE=SOFT[:HARD] with TYPE nofile, nproc, core, memlock, stack...
    /// (-1 for unlimited). May be repeated.
    #[arg(long = "ulimit", value_name = "TYPE=SOFT[:HARD]")]
    pub ulimits: Vec<String>,

    /// An SSH agent socket for RUN --mount=type=ssh: `default` or `ID`
    /// ($SSH_AUTH_SOCK), or ID=SOCKET. Forwarded, never stored. Key files
    /// are not taken: load them with ssh-add into an ssh-agent. May be
    /// repeated.
    #[arg(long = "ssh", value_name = "default|ID[=SOCKET]")]
    pub ssh: Vec<String>,
}

/// `--network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunNetwork {
    Host,
    None,
}
