//! "Did you mean" suggestions by edit distance.

/// Levenshtein distance over characters, case-insensitive.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate within a distance that still looks like a typo
/// (a third of the word, at least 1, at most 3).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_not_strangers() {
        let kw = ["RUN", "COPY", "WORKDIR", "ENTRYPOINT"];
        assert_eq!(closest("RUNN", kw), Some("RUN"));
        assert_eq!(closest("copu", kw), Some("COPY"));
        assert_eq!(closest("WORKDIRR", kw), Some("WORKDIR"));
        assert_eq!(closest("ENTRYPIONT", kw), Some("ENTRYPOINT"));
        assert_eq!(closest("BANANA", kw), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
