//! "Did you mean" suggestions by edit distance.

/// Edit distance counting insertions, deletions, substitutions and
/// transpositions of neighbours (optimal string alignment),
/// case-insensitive: `form` is one edit from `from`.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
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
        assert_eq!(distance("form", "from"), 1);
    }
}
