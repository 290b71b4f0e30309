//! How each planned instruction changes the image configuration, and the
//! history line it leaves, with Docker's rules: ENV replaces in place,
//! shell-form CMD/ENTRYPOINT wrap the SHELL in effect, an ENTRYPOINT
//! clears a CMD inherited from the base, EXPOSE ranges become one entry
//! per port, HEALTHCHECK durations are stored in nanoseconds.
//!
//! History never contains build-arg values: RUN, COPY and ADD are
//! recorded as written; config instructions by the values they set (which
//! are in the config anyway).

use wharf_frontend::ast::{Command, Healthcheck, Instruction};
use wharf_frontend::duration::parse_duration;
use wharf_frontend::plan::PlannedInstruction;
use wharf_oci::{Empty, HealthConfig, ImageConfig};

/// A configuration being built for one stage.
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    pub config: ImageConfig,
    /// Whether this stage set CMD (an ENTRYPOINT only clears an inherited one).
    cmd_set_here: bool,
}

/// A value the planner accepted but the configuration cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ApplyError {
    pub line: usize,
    pub message: String,
}

impl ConfigBuilder {
    /// Starts from a base image's configuration (or an empty one).
    pub fn new(base: ImageConfig) -> Self {
        ConfigBuilder {
            config: base,
            cmd_set_here: false,
        }
    }

    fn windows(&self) -> bool {
        self.config.os == "windows"
    }

    fn set_env(&mut self, key: &str, value: &str) {
        let windows = self.windows();
        let same = |e: &String| {
            let k = e.split_once('=').map(|(k, _)| k).unwrap_or(e);
            if windows {
                k.eq_ignore_ascii_case(key)
            } else {
                k == key
            }
        };
        let entry = format!("{key}={value}");
        match self.config.config.env.iter_mut().find(|e| same(e)) {
            Some(slot) => *slot = entry,
            None => self.config.config.env.push(entry),
        }
    }

    /// Shell form wrapped in the stage's SHELL; exec form as is.
    fn argv(&mut self, command: &Command, shell: Option<&Vec<String>>) -> Vec<String> {
        match command {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => {
                if self.windows() {
                    self.config.config.args_escaped = true;
                }
                let mut v = shell
                    .cloned()
                    .unwrap_or_else(|| default_shell(self.windows()));
                v.push(s.clone());
                v
            }
        }
    }

    /// Applies one instruction. Returns the history entry it leaves
    /// (`empty_layer` set for instructions that add no layer).
    pub fn apply(&mut self, ins: &PlannedInstruction) -> Result<wharf_oci::History, ApplyError> {
        let err = |message: String| ApplyError {
            line: ins.line,
            message,
        };
        let mut empty_layer = true;
        let created_by = match &ins.instruction {
            Instruction::Env { vars } => {
                for (k, v) in vars {
                    self.set_env(k, v);
                }
                let pairs: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("ENV {}", pairs.join(" "))
            }
            Instruction::Label { labels } => {
                for (k, v) in labels {
                    self.config.config.labels.insert(k.clone(), v.clone());
                }
                let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("LABEL {}", pairs.join(" "))
            }
            Instruction::Cmd { command } => {
                let argv = self.argv(command, ins.shell.as_ref());
                self.config.config.cmd = Some(argv.clone());
                self.cmd_set_here = true;
                format!("CMD {}", json(&argv))
            }
            Instruction::Entrypoint { command } => {
                let argv = self.argv(command, ins.shell.as_ref());
                self.config.config.entrypoint = Some(argv.clone());
                if !self.cmd_set_here {
                    self.config.config.cmd = None;
                }
                format!("ENTRYPOINT {}", json(&argv))
            }
            Instruction::Shell { shell } => {
                self.config.config.shell = Some(shell.clone());
                format!("SHELL {}", json(shell))
            }
            Instruction::Workdir { path } => {
                self.config.config.working_dir = path.clone();
                format!("WORKDIR {path}")
            }
            Instruction::User { user } => {
                self.config.config.user = user.clone();
                format!("USER {user}")
            }
            Instruction::Volume { paths } => {
                for p in paths {
                    self.config.config.volumes.insert(p.clone(), Empty {});
                }
                format!("VOLUME {}", json(paths))
            }
            Instruction::Expose { ports } => {
                for p in ports {
                    for single in expand_port_range(p).map_err(err)? {
                        self.config.config.exposed_ports.insert(single, Empty {});
                    }
                }
                format!("EXPOSE {}", ports.join(" "))
            }
            Instruction::Stopsignal { signal } => {
                self.config.config.stop_signal = signal.clone();
                format!("STOPSIGNAL {signal}")
            }
            Instruction::Healthcheck(h) => {
                self.config.config.healthcheck = Some(health_config(h).map_err(err)?);
                ins.source.clone()
            }
            Instruction::Onbuild { trigger, .. } => {
                self.config
                    .config
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(trigger.clone());
                format!("ONBUILD {trigger}")
            }
            Instruction::Maintainer { name } => {
                self.config.author = Some(name.clone());
                format!("MAINTAINER {name}")
            }
            Instruction::Arg { args } => {
                let names: Vec<&str> = args.iter().map(|a| a.name.as_str()).collect();
                format!("ARG {}", names.join(" "))
            }
            Instruction::Run(r) => {
                empty_layer = false;
                let argv = match &r.command {
                    Command::Exec(v) => v.clone(),
                    Command::Shell(s) => {
                        let mut v = ins
                            .shell
                            .clone()
                            .unwrap_or_else(|| default_shell(self.windows()));
                        v.push(s.clone());
                        v
                    }
                };
                format!("RUN {}", argv.join(" "))
            }
            Instruction::Copy(_) | Instruction::Add { .. } => {
                empty_layer = false;
                ins.source.clone()
            }
            Instruction::From(_) => {
                return Err(err("FROM does not apply to a configuration".into()))
            }
        };
        Ok(wharf_oci::History {
            created: self.config.created.clone(),
            created_by: Some(created_by),
            author: None,
            comment: ins
                .onbuild_trigger
                .then(|| "ONBUILD trigger of the base image".to_string()),
            empty_layer,
        })
    }
}

fn default_shell(windows: bool) -> Vec<String> {
    if windows {
        vec!["cmd".into(), "/S".into(), "/C".into()]
    } else {
        vec!["/bin/sh".into(), "-c".into()]
    }
}

fn json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// `8000-8002/tcp` → `8000/tcp`, `8001/tcp`, `8002/tcp`.
fn expand_port_range(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let parse = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("EXPOSE {spec}: bad port {s:?}"))
    };
    match ports.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if b < a {
                return Err(format!("EXPOSE {spec}: the range is reversed"));
            }
            Ok((a..=b).map(|p| format!("{p}/{proto}")).collect())
        }
        None => Ok(vec![format!("{}/{proto}", parse(ports)?)]),
    }
}

fn health_config(h: &Healthcheck) -> Result<HealthConfig, String> {
    let ns = |name: &str, v: &Option<String>| -> Result<Option<u64>, String> {
        v.as_deref()
            .map(|s| {
                parse_duration(s)
                    .ok_or_else(|| format!("HEALTHCHECK --{name}={s} is not a duration"))
            })
            .transpose()
    };
    Ok(match h {
        Healthcheck::None => HealthConfig {
            test: vec!["NONE".into()],
            ..HealthConfig::default()
        },
        Healthcheck::Cmd {
            command,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => HealthConfig {
            test: match command {
                Command::Exec(v) => std::iter::once("CMD".to_string())
                    .chain(v.iter().cloned())
                    .collect(),
                Command::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
            },
            interval: ns("interval", interval)?,
            timeout: ns("timeout", timeout)?,
            start_period: ns("start-period", start_period)?,
            start_interval: ns("start-interval", start_interval)?,
            retries: *retries,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_frontend::dockerfile::parse;
    use wharf_frontend::plan::{plan, NoBaseImages, PlanOptions};
    use wharf_oci::Platform;

    fn build(src: &str, base: ImageConfig) -> (ImageConfig, Vec<wharf_oci::History>) {
        let f = parse("Dockerfile", src).unwrap();
        let mut o = PlanOptions::for_host();
        o.run_platforms = None;
        let p = plan(&f, src, &o, &NoBaseImages).unwrap();
        let stage = p.targets[0].stages.last().unwrap();
        let mut b = ConfigBuilder::new(base);
        let mut h = Vec::new();
        for ins in &stage.instructions {
            h.push(b.apply(ins).unwrap());
        }
        (b.config, h)
    }

    fn linux() -> ImageConfig {
        ImageConfig::for_platform(&"linux/amd64".parse::<Platform>().unwrap())
    }

    #[test]
    fn linux_config_instructions() {
        let src = concat!(
            "FROM --platform=linux/amd64 x\n",
            "ENV A=1 B=2\nENV A=3\n",
            "LABEL v=1\n",
            "WORKDIR /app\nUSER app\n",
            "EXPOSE 80 8000-8002/udp\nVOLUME /data\n",
            "STOPSIGNAL SIGQUIT\n",
            "HEALTHCHECK --interval=30s --retries=2 CMD curl -f localhost\n",
            "ONBUILD RUN make\n",
            "CMD echo hi\n",
        );
        let (c, h) = build(src, linux());
        let cc = &c.config;
        assert_eq!(cc.env, vec!["A=3", "B=2"]);
        assert_eq!(cc.labels["v"], "1");
        assert_eq!(cc.working_dir, "/app");
        assert_eq!(cc.user, "app");
        let ports: Vec<&String> = cc.exposed_ports.keys().collect();
        assert_eq!(ports, vec!["80/tcp", "8000/udp", "8001/udp", "8002/udp"]);
        assert!(cc.volumes.contains_key("/data"));
        assert_eq!(cc.stop_signal, "SIGQUIT");
        let hc = cc.healthcheck.as_ref().unwrap();
        assert_eq!(hc.test, vec!["CMD-SHELL", "curl -f localhost"]);
        assert_eq!(hc.interval, Some(30_000_000_000));
        assert_eq!(hc.retries, Some(2));
        assert_eq!(cc.on_build.as_ref().unwrap(), &vec!["RUN make".to_string()]);
        assert_eq!(cc.cmd.as_ref().unwrap(), &vec!["/bin/sh", "-c", "echo hi"]);
        assert!(h.iter().all(|e| e.empty_layer));
        assert_eq!(h[0].created_by.as_deref(), Some("ENV A=1 B=2"));
    }

    #[test]
    fn entrypoint_clears_inherited_cmd_only() {
        let mut base = linux();
        base.config.cmd = Some(vec!["base-cmd".into()]);
        let (c, _) = build("FROM x\nENTRYPOINT [\"/app\"]\n", base.clone());
        assert_eq!(c.config.cmd, None);
        let (c, _) = build("FROM x\nCMD [\"--help\"]\nENTRYPOINT [\"/app\"]\n", base);
        assert_eq!(c.config.cmd.as_ref().unwrap(), &vec!["--help"]);
    }

    #[test]
    fn windows_shell_form_and_case_insensitive_env() {
        let mut base =
            ImageConfig::for_platform(&"windows/amd64:10.0.20348".parse::<Platform>().unwrap());
        base.config.env = vec!["Path=C:\\Windows".into()];
        let src = "FROM --platform=windows/amd64 w\nENV PATH=C:\\\\Windows;C:\\\\app\nCMD app.exe --serve\nRUN dir\nCOPY a b\n";
        let (c, h) = build(src, base);
        assert_eq!(c.config.env, vec!["PATH=C:\\Windows;C:\\app"]);
        assert_eq!(
            c.config.cmd.as_ref().unwrap(),
            &vec!["cmd", "/S", "/C", "app.exe --serve"]
        );
        assert!(c.config.args_escaped);
        assert_eq!(h[2].created_by.as_deref(), Some("RUN cmd /S /C dir"));
        assert!(!h[2].empty_layer);
        assert_eq!(h[3].created_by.as_deref(), Some("COPY a b"));
    }

    #[test]
    fn history_has_no_build_arg_values() {
        let src = "FROM x\nARG TOKEN=secret-value\nRUN echo $TOKEN\nCOPY file-$TOKEN /x\n";
        let (_, h) = build(src, linux());
        for e in &h {
            assert!(
                !e.created_by.as_deref().unwrap().contains("secret-value"),
                "{e:?}"
            );
        }
    }
}
