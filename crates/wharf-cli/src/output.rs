//! `--output` values: `type=registry` (push) here, file exports parsed by
//! `wharf_export::Output`.

use anyhow::Result;

/// Where a build's result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Push every tag to its registry.
    Registry,
    /// Write an OCI layout, OCI archive or docker-archive.
    Export(wharf_export::Output),
}

/// Parses `type=registry`, `type=oci,dest=out`, `type=docker,dest=x.tar`.
pub fn parse_output(spec: &str) -> Result<Output> {
    let kind = spec
        .split(',')
        .find_map(|p| p.trim().strip_prefix("type="))
        .map(str::trim);
    if matches!(kind, Some("registry") | Some("image")) {
        return Ok(Output::Registry);
    }
    Ok(Output::Export(wharf_export::Output::parse(spec)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs() {
        assert_eq!(parse_output("type=registry").unwrap(), Output::Registry);
        assert_eq!(
            parse_output("type=image,push=true").unwrap(),
            Output::Registry
        );
        assert_eq!(
            parse_output("type=oci,dest=img.tar").unwrap(),
            Output::Export(wharf_export::Output::OciArchive("img.tar".into()))
        );
        assert_eq!(
            parse_output("type=oci,dest=dir").unwrap(),
            Output::Export(wharf_export::Output::OciDir("dir".into()))
        );
        assert!(parse_output("type=oci").is_err());
        assert!(parse_output("type=zip,dest=x").is_err());
    }
}
