//! A base image's configuration as the planner sees it.

use wharf_frontend::plan::BaseImage;
use wharf_oci::ImageConfig;

/// What the planner needs to know about `config` as a base: platform,
/// ENV, WORKDIR, SHELL, USER and ONBUILD triggers.
pub fn base_image(config: &ImageConfig) -> BaseImage {
    BaseImage {
        platform: Some(config.platform()),
        env: config.env_pairs(),
        workdir: (!config.config.working_dir.is_empty()).then(|| config.config.working_dir.clone()),
        shell: config.config.shell.clone(),
        user: (!config.config.user.is_empty()).then(|| config.config.user.clone()),
        onbuild: config.config.on_build.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_image_view() {
        let c: ImageConfig = serde_json::from_str(
            r#"{"architecture":"amd64","os":"windows","os.version":"10.0.20348.2113",
                "config":{"Env":["PATH=C:\\Windows","APP=1"],"WorkingDir":"",
                "OnBuild":["RUN echo hi"],"Shell":["powershell","-Command"]}}"#,
        )
        .unwrap();
        let b = base_image(&c);
        assert!(b.platform.as_ref().unwrap().is_windows());
        assert_eq!(b.env[1], ("APP".to_string(), "1".to_string()));
        assert_eq!(b.workdir, None);
        assert_eq!(b.onbuild, vec!["RUN echo hi".to_string()]);
        assert_eq!(b.shell.unwrap()[0], "powershell");
    }
}
