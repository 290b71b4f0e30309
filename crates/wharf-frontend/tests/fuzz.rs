//! A bounded fuzz run over the parser, the expander and the planner:
//! Dockerfiles assembled from fragments that reach deep paths (nested
//! substitutions, doubling variables, heredocs, JSON, continuations,
//! directives), each parsed and planned. Nothing may panic, and no input
//! may make the front end hold more than [`MEMORY_LIMIT`] at once: a
//! counting allocator measures the peak of every case.
//!
//! This file holds one test so that the allocator's peak belongs to it
//! alone (tests of one binary run on parallel threads).

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use wharf_frontend::dockerfile::parse;
use wharf_frontend::expand::{Expander, Mode};
use wharf_frontend::plan::{plan, NoBaseImages, PlanOptions};

/// The most one case may hold at once beyond what was live before it.
const MEMORY_LIMIT: usize = 64 << 20;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = CURRENT.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns how many bytes above the starting level it held at
/// its peak.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

fn options() -> PlanOptions {
    let mut o = PlanOptions::for_host();
    o.run_platforms = None;
    o.build_args = BTreeMap::from([("A".to_string(), "xy".to_string())]);
    o
}

fn run_case(src: &str) {
    if let Ok(f) = parse("Dockerfile", src) {
        let _ = plan(&f, src, &options(), &NoBaseImages);
    }
    let vars = |n: &str| (n == "A").then(|| "a b".to_string());
    let ex = Expander::default();
    let _ = ex.word(src, Mode::Word, &vars);
    let _ = ex.word(src, Mode::Heredoc, &vars);
    let _ = ex.words(src, &vars);
}

/// Fragments of Dockerfile syntax, chosen to combine into hostile input.
fn fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "FROM x\n",
        "FROM x AS b\n",
        "FROM --platform=windows/amd64 w\n",
        "ARG A\n",
        "ARG A=",
        "ENV A=$A$A$A$A$A$A$A$A\n",
        "ENV A=${A}${A}${A}${A}\n",
        "LABEL l=${A//?/$A$A$A$A}\n",
        "LABEL l=${A//$E/$A$A}\n",
        "RUN ",
        "COPY ",
        "ADD ",
        "CMD ",
        "ONBUILD ",
        "HEALTHCHECK CMD ",
        "WORKDIR ",
        "${A:-",
        "${A:+",
        "${A%%",
        "${A##*",
        "${A/",
        "${@:-",
        "}",
        "$A",
        "$1",
        "$$",
        "'",
        "\"",
        "\\",
        "`",
        "\\\n",
        "\n",
        " ",
        "<<EOF",
        "<<-'EOF' ",
        "<<  EOF",
        "EOF\n",
        "[\"a\", [\"b\"]]",
        "[\"x\"]",
        "# escape=`\n",
        "  # syntax=x\n",
        "--mount=type=cache,target=/c ",
        "--from=b ",
        "*",
        "?",
        "[a]",
    ])
}

/// Inputs known to be costly without the limits: 15 doubling lines
/// (4^15 copies), a replacement that multiplies, deep nesting.
fn hostile() -> Vec<String> {
    let mut doubling = String::from("FROM x\nENV A=0123456789abcdef\n");
    doubling.push_str(&"ENV A=$A$A$A$A\n".repeat(15));
    let multiply = format!("FROM x\nENV A={}\nENV B=${{A//?/$A}}\n", "y".repeat(4096));
    let nested = format!(
        "FROM x\nLABEL l={}x{}\n",
        "${A:-".repeat(5000),
        "}".repeat(5000)
    );
    vec![doubling, multiply, nested]
}

fn check(src: &str) -> Result<(), TestCaseError> {
    let peak = peak_during(|| run_case(src));
    prop_assert!(peak < MEMORY_LIMIT, "held {peak} bytes on {src:?}");
    Ok(())
}

#[test]
fn front_end_never_panics_and_stays_bounded() {
    for src in hostile() {
        check(&src).unwrap();
    }
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 400,
        ..ProptestConfig::default()
    });
    runner
        .run(&prop::collection::vec(fragment(), 0..40), |parts| {
            check(&parts.concat())
        })
        .unwrap();
}
