//! The conformance report: both runners' outcomes merged per case, rendered as Markdown, and
//! checked against the committed report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Deserialize;

use super::COMMITTED;

/// The suites, in report order (others found in the results follow).
const SUITES: [&str; 6] = [
    "node",
    "contrib",
    "pytorch-converted",
    "pytorch-operator",
    "simple",
    "light",
];
/// The line of the report the checks read back: `Passing: N of M (native and wasm)`.
pub const PASSING: &str = "Passing: ";
/// Failure reasons longer than this are cut in the report's table.
const REASON_CHARS: usize = 160;

/// One line of a runner's output file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Outcome {
    pub id: String,
    pub pass: bool,
    pub reason: Option<String>,
}

/// One case with every runner's result. `None`: the runner wrote no result for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub suite: String,
    pub name: String,
    /// The operator a `node` case tests; the suite for the others.
    pub op: String,
    pub native: Option<Outcome>,
    pub wasm: Option<Outcome>,
    /// onnxruntime (Python), the reference.
    pub ort: Option<Outcome>,
}

impl Row {
    fn native_pass(&self) -> bool {
        self.native.as_ref().is_some_and(|o| o.pass)
    }

    fn wasm_pass(&self) -> bool {
        self.wasm.as_ref().is_some_and(|o| o.pass)
    }

    fn ort_pass(&self) -> bool {
        self.ort.as_ref().is_some_and(|o| o.pass)
    }

    /// `suite/name`, as the report writes it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.suite, self.name)
    }
}

/// `suite__name` → (suite, name).
fn split_id(id: &str) -> (String, String) {
    match id.split_once("__") {
        Some((suite, name)) => (suite.into(), name.into()),
        None => (String::new(), id.into()),
    }
}

fn suite_rank(suite: &str) -> usize {
    SUITES
        .iter()
        .position(|s| *s == suite)
        .unwrap_or(SUITES.len())
}

/// Which runner an outcome came from.
#[derive(Clone, Copy)]
pub enum Side {
    Native,
    Wasm,
    Ort,
}

/// Joins the runners' results by case id, in report order (suite order, then name). `ops`
/// maps case ids to the operator they test.
pub fn merge(outcomes: Vec<(Side, Vec<Outcome>)>, ops: &BTreeMap<String, String>) -> Vec<Row> {
    let mut rows: BTreeMap<(usize, String, String), Row> = BTreeMap::new();
    for (side, list) in outcomes {
        for outcome in list {
            let (suite, name) = split_id(&outcome.id);
            let op = ops
                .get(&outcome.id)
                .cloned()
                .unwrap_or_else(|| suite.clone());
            let row = rows
                .entry((suite_rank(&suite), suite.clone(), name.clone()))
                .or_insert_with(|| Row {
                    suite,
                    name,
                    op,
                    native: None,
                    wasm: None,
                    ort: None,
                });
            match side {
                Side::Native => row.native = Some(outcome),
                Side::Wasm => row.wasm = Some(outcome),
                Side::Ort => row.ort = Some(outcome),
            }
        }
    }
    rows.into_values().collect()
}

/// Counts over a group of cases.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Count {
    pub cases: usize,
    pub native: usize,
    pub wasm: usize,
    pub ort: usize,
}

impl Count {
    fn add(&mut self, r: &Row) {
        self.cases += 1;
        self.native += usize::from(r.native_pass());
        self.wasm += usize::from(r.wasm_pass());
        self.ort += usize::from(r.ort_pass());
    }
}

/// Per-suite counts, then a total row named `all`.
pub fn totals(rows: &[Row]) -> Vec<(String, Count)> {
    let mut per: Vec<(String, Count)> = vec![];
    let mut all = Count::default();
    for r in rows {
        if per.last().is_none_or(|p| p.0 != r.suite) {
            per.push((r.suite.clone(), Count::default()));
        }
        per.last_mut().expect("pushed").1.add(r);
        all.add(r);
    }
    per.push(("all".into(), all));
    per
}

/// Cases onnxruntime passes, and how many of them edgewise (wasm) passes too.
pub fn against_reference(rows: &[Row]) -> (usize, usize) {
    let reference: Vec<&Row> = rows.iter().filter(|r| r.ort_pass()).collect();
    let both = reference.iter().filter(|r| r.wasm_pass()).count();
    (reference.len(), both)
}

/// Cases that pass on both sides.
pub fn passing_both(rows: &[Row]) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| r.native_pass() && r.wasm_pass())
        .map(Row::label)
        .collect()
}

/// A failure sorted into a kind, for the summary table.
pub fn kind(reason: &str) -> &'static str {
    if reason.starts_with("not exported:") {
        "value type edgewise does not carry (not exported)"
    } else if reason.starts_with("load: unsupported operator") {
        "unsupported operator"
    } else if reason.starts_with("load:") {
        "model rejected at load (typing, shapes, graph)"
    } else if reason.starts_with("run:") {
        "error while running"
    } else if reason.starts_with("wasm trap") {
        "wasm trap (panic or out of memory)"
    } else if reason.starts_with("timed out") {
        "timed out"
    } else if reason.contains(": element type ") || reason.contains(": dims ") {
        "output element type or dims differ"
    } else if reason.contains(" elements differ") {
        "output values outside tolerance"
    } else {
        "other"
    }
}

fn reason_of(o: &Option<Outcome>) -> String {
    match o {
        None => "no result".into(),
        Some(o) if o.pass => String::new(),
        Some(o) => o.reason.clone().unwrap_or_else(|| "failed".into()),
    }
}

/// Makes text safe inside a Markdown table cell and cuts it to `max` characters.
pub fn cell(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = if flat.chars().count() > max {
        let mut s: String = flat.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    } else {
        flat
    };
    let mut out = String::with_capacity(cut.len());
    for c in cut.chars() {
        match c {
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

fn mark(pass: bool) -> &'static str {
    if pass { "✔" } else { "✘" }
}

/// The reason column: one reason when both sides fail alike, else each side's.
fn reason_cell(r: &Row) -> String {
    let (n, w) = (reason_of(&r.native), reason_of(&r.wasm));
    let text = match (r.native_pass(), r.wasm_pass()) {
        (true, true) => String::new(),
        (false, true) => format!("native: {n}"),
        (true, false) => format!("wasm: {w}"),
        (false, false) if n == w => n,
        (false, false) => format!("native: {n} / wasm: {w}"),
    };
    cell(&text, REASON_CHARS)
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// The edgewise failures of a group of cases, one entry per distinct reason with the cases
/// it stops (wasm's reason where the sides disagree).
fn failure_summary(rows: &[&Row]) -> String {
    let mut reasons: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for r in rows.iter().filter(|r| !(r.native_pass() && r.wasm_pass())) {
        let why = if r.wasm_pass() {
            format!("native: {}", reason_of(&r.native))
        } else {
            reason_of(&r.wasm)
        };
        let short: String = why.chars().take(REASON_CHARS).collect();
        reasons.entry(short).or_default().push(&r.name);
    }
    let parts: Vec<String> = reasons
        .into_iter()
        .map(|(why, cases)| {
            let who = if cases.len() > 3 {
                format!("{}, … ({} cases)", cases[..2].join(", "), cases.len())
            } else {
                cases.join(", ")
            };
            format!("{who}: {why}")
        })
        .collect();
    cell(&parts.join(" · "), 3 * REASON_CHARS)
}

/// The whole report.
pub fn render(rows: &[Row], onnx_version: &str, ort_version: &str) -> String {
    let mut s = String::new();
    let both = passing_both(rows).len();
    let _ = writeln!(s, "# ONNX backend conformance\n");
    let _ = writeln!(
        s,
        "Written by `cargo xtask conformance --write`; `cargo xtask test` checks that native and \
         wasm pass the same cases (a case one side misses by rounding alone, every output within \
         1e-5, is noted rather than failed) and that no fewer pass than recorded here.\n"
    );
    let _ = writeln!(
        s,
        "- Source: the `onnx` {onnx_version} wheel. Suites {} are its stored test data \
         (`onnx/backend/test/data`); the `node` cases (one operator each, and `_expanded` \
         variants written as the operator's function body) ship as code, \
         `onnx.backend.test.case.node`, which builds each model and computes its expected \
         outputs with numpy: `tests/conformance/export_cases.py` runs it and writes the cases \
         in ONNX's layout first. `contrib` holds onnxruntime's quantized contrib operators \
         (`com.microsoft`) that int8 exports use, built by the same script with random \
         quantized inputs; their expected outputs are onnxruntime's (the only implementation \
         that defines them), compared within one quantization step (more for \
         `DynamicQuantizeLSTM`, which onnxruntime computes with activations quantized at \
         every step).",
        SUITES[2..]
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "- Each model is loaded with default options (tract's optimizer on) and run on each \
         stored data set; inputs are the graph inputs that are not initializers. `light` models \
         ship only expected outputs: their inputs are made as ONNX's runner makes them \
         (`arange(n) / n`, float32, unset dims = 1)."
    );
    let _ = writeln!(
        s,
        "- Every output must match the stored one in element type and dims. Floats compare as \
         in ONNX's runner (numpy `assert_allclose`): \\|got − want\\| ≤ atol + rtol · \\|want\\|, \
         rtol = 1e-3 and atol = 1e-7 unless a case says otherwise (`light` densenet121: rtol \
         2e-3), NaN equal to NaN, infinities equal when their signs are. Integers and booleans \
         compare exactly."
    );
    let _ = writeln!(
        s,
        "- native: `edgewise-runtime` on the host \
         (`cargo run -p edgewise-runtime --example conformance`); wasm: the npm package in Node \
         (`node tests/conformance/run-wasm.mjs`); onnxruntime: onnxruntime {ort_version} \
         (Python, CPU) on the same cases in the same command, reading every stored value as \
         ONNX's runner reads it and comparing as it compares \
         (`tests/conformance/run_onnxruntime.py`).\n"
    );
    let _ = writeln!(s, "{PASSING}{both} of {} (native and wasm)\n", rows.len());
    let (reference, matched) = against_reference(rows);
    let _ = writeln!(
        s,
        "Of the {reference} cases onnxruntime passes, edgewise (wasm) passes {matched} ({}).\n",
        percent(matched, reference)
    );
    let _ = writeln!(s, "## Totals\n");
    let _ = writeln!(
        s,
        "| suite | cases | native pass | wasm pass | onnxruntime pass |"
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: |");
    for (suite, c) in totals(rows) {
        let _ = writeln!(
            s,
            "| {suite} | {} | {} | {} | {} |",
            c.cases, c.native, c.wasm, c.ort
        );
    }
    let mut kinds: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in rows {
        if !r.native_pass() {
            kinds.entry(kind(&reason_of(&r.native))).or_default().0 += 1;
        }
        if !r.wasm_pass() {
            kinds.entry(kind(&reason_of(&r.wasm))).or_default().1 += 1;
        }
    }
    if !kinds.is_empty() {
        let _ = writeln!(s, "\n## Failures by kind\n");
        let _ = writeln!(s, "| kind | native | wasm |");
        let _ = writeln!(s, "| --- | ---: | ---: |");
        for (k, (n, w)) in kinds {
            let _ = writeln!(s, "| {k} | {n} | {w} |");
        }
    }
    let mut by_op: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.suite == "node") {
        by_op.entry(&r.op).or_default().push(r);
    }
    if !by_op.is_empty() {
        let _ = writeln!(s, "\n## Operators (`node` suite)\n");
        let _ = writeln!(
            s,
            "| operator | cases | native | wasm | onnxruntime | edgewise failures (cases: reason) |"
        );
        let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | --- |");
        for (op, group) in by_op {
            let mut c = Count::default();
            group.iter().for_each(|r| c.add(r));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                cell(op, 60),
                c.cases,
                c.native,
                c.wasm,
                c.ort,
                failure_summary(&group)
            );
        }
    }
    let _ = writeln!(s, "\n## Cases\n");
    let _ = writeln!(
        s,
        "| case | native | wasm | onnxruntime | reason for failure (edgewise; onnxruntime) |"
    );
    let _ = writeln!(s, "| --- | :---: | :---: | :---: | --- |");
    for r in rows {
        let mut why = reason_cell(r);
        if !r.ort_pass() {
            let ort = cell(&reason_of(&r.ort), REASON_CHARS);
            why = if why.is_empty() {
                format!("onnxruntime: {ort}")
            } else {
                format!("{why}; onnxruntime: {ort}")
            };
        }
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {why} |",
            r.label(),
            mark(r.native_pass()),
            mark(r.wasm_pass()),
            mark(r.ort_pass()),
        );
    }
    s
}

/// `Passing: N of M (native and wasm)` → (N, M).
pub fn parse_passing(report: &str) -> Option<(usize, usize)> {
    let line = report
        .lines()
        .find_map(|l| l.trim().strip_prefix(PASSING))?;
    let (n, rest) = line.split_once(" of ")?;
    let m = rest.split_whitespace().next()?;
    Some((n.trim().parse().ok()?, m.parse().ok()?))
}

/// The cases a report's table marks as passing on both sides.
pub fn parse_passing_cases(report: &str) -> BTreeSet<String> {
    report
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split(" | ").map(str::trim).collect();
            let case = cols.first()?.strip_prefix("| `")?.strip_suffix('`')?;
            (cols.len() >= 3 && cols[1] == mark(true) && cols[2] == mark(true))
                .then(|| case.to_string())
        })
        .collect()
}

/// The largest |difference| a native/wasm disagreement may have to count as rounding.
const ROUNDING: f64 = 1e-5;

/// Whether a failure is outputs off by less than `ROUNDING` (and nothing else).
fn rounding_only(reason: &str) -> bool {
    kind(reason) == "output values outside tolerance"
        && reason
            .rsplit_once("max |diff| ")
            .and_then(|(_, x)| x.trim().parse::<f64>().ok())
            .is_some_and(|d| d < ROUNDING)
}

/// What the checks found; `errors` make the step fail.
#[derive(Debug, Default, PartialEq)]
pub struct Verdict {
    pub errors: Vec<String>,
    pub notes: Vec<String>,
}

/// The checks: native and wasm pass the same cases; no fewer pass than `committed` records
/// (`None`: there is no committed report). With `write`, the committed count may drop (the
/// report replaces it) and its absence is fine.
pub fn check(rows: &[Row], committed: Option<&str>, write: bool) -> Verdict {
    let mut v = Verdict::default();
    // A case may pass on one side and miss on the other by rounding alone (rustfft's AVX
    // path natively against its scalar one in wasm, on outputs that should be 0 at atol 1e-7):
    // that is noted, not failed. Any other difference fails.
    let noise = |o: &Option<Outcome>| {
        o.as_ref()
            .and_then(|o| o.reason.as_deref())
            .is_some_and(rounding_only)
    };
    let (mut native_only, mut wasm_only, mut rounding) = (vec![], vec![], vec![]);
    for r in rows {
        match (r.native_pass(), r.wasm_pass()) {
            (true, false) if noise(&r.wasm) => rounding.push(r.label()),
            (false, true) if noise(&r.native) => rounding.push(r.label()),
            (true, false) => native_only.push(r.label()),
            (false, true) => wasm_only.push(r.label()),
            _ => {}
        }
    }
    if !rounding.is_empty() {
        v.notes.push(format!(
            "{} case(s) pass on one side only, the other missing by less than {ROUNDING:e}: {}",
            rounding.len(),
            rounding.join(", ")
        ));
    }
    if !native_only.is_empty() {
        v.errors.push(format!(
            "{} case(s) pass natively but not in wasm: {}",
            native_only.len(),
            native_only.join(", ")
        ));
    }
    if !wasm_only.is_empty() {
        v.errors.push(format!(
            "{} case(s) pass in wasm but not natively: {}",
            wasm_only.len(),
            wasm_only.join(", ")
        ));
    }
    let now = passing_both(rows);
    let Some(committed) = committed else {
        if !write {
            v.errors.push(format!(
                "{COMMITTED} does not exist: run `cargo xtask conformance --write` and commit it"
            ));
        }
        return v;
    };
    let Some((before, before_total)) = parse_passing(committed) else {
        v.errors.push(format!(
            "{COMMITTED} has no `{PASSING}N of M` line: run `cargo xtask conformance --write`"
        ));
        return v;
    };
    let lost: Vec<String> = parse_passing_cases(committed)
        .difference(&now)
        .cloned()
        .collect();
    let gained: Vec<String> = now
        .difference(&parse_passing_cases(committed))
        .cloned()
        .collect();
    if !lost.is_empty() {
        v.notes.push(format!(
            "no longer passing (committed as passing): {}",
            lost.join(", ")
        ));
    }
    if !gained.is_empty() {
        v.notes
            .push(format!("newly passing: {}", gained.join(", ")));
    }
    if before_total != rows.len() {
        v.notes.push(format!(
            "the committed report counts {before_total} cases, this run {}",
            rows.len()
        ));
    }
    if now.len() < before {
        let msg = format!(
            "{} cases pass on both sides, fewer than the {before} recorded in {COMMITTED}",
            now.len()
        );
        if write {
            v.notes.push(msg);
        } else {
            v.errors.push(msg);
        }
    } else if now.len() > before && !write {
        v.notes.push(format!(
            "{} cases pass, more than the {before} recorded: run `cargo xtask conformance \
             --write` to record them",
            now.len()
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(id: &str, pass: bool, reason: Option<&str>) -> Outcome {
        Outcome {
            id: id.into(),
            pass,
            reason: reason.map(String::from),
        }
    }

    fn both(native: Vec<Outcome>, wasm: Vec<Outcome>) -> Vec<Row> {
        merge(
            vec![(Side::Native, native), (Side::Wasm, wasm)],
            &BTreeMap::new(),
        )
    }

    fn sample() -> Vec<Row> {
        both(
            vec![
                o("simple__b", true, None),
                o(
                    "light__m",
                    false,
                    Some("load: unsupported operator X (node 'n')"),
                ),
                o("pytorch-converted__a", true, None),
                o("simple__only_native", true, None),
            ],
            vec![
                o("pytorch-converted__a", true, None),
                o("simple__b", true, None),
                o(
                    "light__m",
                    false,
                    Some("load: unsupported operator X (node 'n')"),
                ),
                o("simple__only_wasm", false, Some("run: boom")),
            ],
        )
    }

    #[test]
    fn merge_joins_by_id_in_suite_order() {
        let rows = sample();
        let labels: Vec<String> = rows.iter().map(Row::label).collect();
        assert_eq!(
            labels,
            [
                "pytorch-converted/a",
                "simple/b",
                "simple/only_native",
                "simple/only_wasm",
                "light/m"
            ]
        );
        let r = &rows[2];
        assert!(r.native_pass() && r.wasm.is_none() && !r.wasm_pass());
        let r = &rows[3];
        assert!(r.native.is_none() && r.wasm.is_some());
        assert_eq!(reason_of(&r.native), "no result");
    }

    #[test]
    fn totals_per_suite_and_overall() {
        let t = totals(&sample());
        let c = |cases, native, wasm| Count {
            cases,
            native,
            wasm,
            ort: 0,
        };
        assert_eq!(
            t,
            vec![
                ("pytorch-converted".to_string(), c(1, 1, 1)),
                ("simple".to_string(), c(3, 2, 1)),
                ("light".to_string(), c(1, 0, 0)),
                ("all".to_string(), c(5, 3, 2)),
            ]
        );
    }

    #[test]
    fn cells_are_escaped_flattened_and_cut() {
        assert_eq!(cell("a|b *c* <d>\n e_f", 100), r"a\|b \*c\* &lt;d&gt; e\_f");
        let long = "x".repeat(300);
        let c = cell(&long, 10);
        assert_eq!(c.chars().count(), 10);
        assert!(c.ends_with('…'));
    }

    #[test]
    fn failures_sort_into_kinds() {
        assert_eq!(
            kind("not exported: 'x' has element type STRING"),
            "value type edgewise does not carry (not exported)"
        );
        assert_eq!(
            kind("load: unsupported operators A, B"),
            "unsupported operator"
        );
        assert_eq!(
            kind("load: invalid model: typing failed"),
            "model rejected at load (typing, shapes, graph)"
        );
        assert_eq!(kind("run: run failed: x"), "error while running");
        assert_eq!(
            kind("wasm trap (unreachable): panicked"),
            "wasm trap (panic or out of memory)"
        );
        assert_eq!(
            kind("output 'y': dims [2], want [1, 2]"),
            "output element type or dims differ"
        );
        assert_eq!(
            kind(
                "data set 1: output 'y' at [0]: got 1, want 2, exact; 1 of 3 elements differ, max |diff| 1e0"
            ),
            "output values outside tolerance"
        );
    }

    #[test]
    fn report_round_trips_its_passing_line_and_cases() {
        let rows = sample();
        let text = render(&rows, "1.23.2", "1.31.1");
        assert_eq!(parse_passing(&text), Some((2, 5)));
        assert_eq!(
            parse_passing_cases(&text),
            ["pytorch-converted/a", "simple/b"]
                .map(String::from)
                .into_iter()
                .collect()
        );
        assert!(text.contains("`onnx` 1.23.2 wheel"));
        assert!(text.contains(
            "| `light/m` | ✘ | ✘ | ✘ | load: unsupported operator X (node 'n'); onnxruntime: no result |"
        ));
        assert!(text.contains(
            "| `simple/only_wasm` | ✘ | ✘ | ✘ | native: no result / wasm: run: boom; onnxruntime: no result |"
        ));
        assert!(text.contains(
            "| `simple/only_native` | ✔ | ✘ | ✘ | wasm: no result; onnxruntime: no result |"
        ));
    }

    #[test]
    fn passing_line_parses_with_surrounding_text() {
        assert_eq!(
            parse_passing("# t\n\nPassing: 123 of 140 (native and wasm)\n"),
            Some((123, 140))
        );
        assert_eq!(parse_passing("Passing: x of 3"), None);
        assert_eq!(parse_passing("nothing here"), None);
    }

    fn same_both(ids: &[(&str, bool)]) -> Vec<Row> {
        let outs: Vec<Outcome> = ids
            .iter()
            .map(|(id, p)| o(id, *p, (!p).then_some("run: x")))
            .collect();
        both(outs.clone(), outs)
    }

    #[test]
    fn operators_of_the_node_suite_get_a_row_each_with_onnxruntime_beside() {
        let ops: BTreeMap<String, String> = [
            ("node__test_abs", "Abs"),
            ("node__test_abs_b", "Abs"),
            ("node__test_relu", "Relu"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .into_iter()
        .collect();
        let side = |pass: [bool; 3]| {
            ["node__test_abs", "node__test_abs_b", "node__test_relu"]
                .iter()
                .zip(pass)
                .map(|(id, p)| o(id, p, (!p).then_some("run: boom")))
                .collect::<Vec<_>>()
        };
        let rows = merge(
            vec![
                (Side::Native, side([true, false, true])),
                (Side::Wasm, side([true, false, true])),
                (Side::Ort, side([true, true, false])),
            ],
            &ops,
        );
        assert_eq!(against_reference(&rows), (2, 1));
        let text = render(&rows, "1.23.2", "1.31.1");
        assert!(text.contains("edgewise (wasm) passes 1 (50.0%)"), "{text}");
        assert!(
            text.contains("| Abs | 2 | 1 | 1 | 2 | test\\_abs\\_b: run: boom |"),
            "{text}"
        );
        assert!(text.contains("| Relu | 1 | 1 | 1 | 0 |  |"), "{text}");
    }

    #[test]
    fn native_and_wasm_must_agree() {
        let rows = sample();
        let committed = render(&rows, "1.23.2", "1.31.1");
        let v = check(&rows, Some(&committed), false);
        assert_eq!(v.errors.len(), 1, "{v:?}");
        assert!(v.errors[0].contains("pass natively but not in wasm: simple/only_native"));
    }

    #[test]
    fn a_side_missing_by_rounding_alone_is_a_note_not_an_error() {
        let rows = both(
            vec![o("node__dft", true, None), o("node__big", true, None)],
            vec![
                o(
                    "node__dft",
                    false,
                    Some(
                        "output 'y' at [0]: got 0, want 1.9e-7, tolerance 1.0e-7 (atol 1e-7 + rtol 1e-3 * |want|); 1 of 2 elements differ, max |diff| 1.907e-7",
                    ),
                ),
                o(
                    "node__big",
                    false,
                    Some(
                        "output 'y' at [0]: got 0, want 1, exact; 1 of 2 elements differ, max |diff| 1.000e0",
                    ),
                ),
            ],
        );
        let v = check(&rows, None, true);
        assert_eq!(v.errors.len(), 1, "{v:?}");
        assert!(v.errors[0].contains("node/big"), "{v:?}");
        assert!(v.notes.iter().any(|n| n.contains("node/dft")), "{v:?}");
    }

    #[test]
    fn fewer_passes_than_committed_fail_unless_writing() {
        let before = same_both(&[("simple__a", true), ("simple__b", true)]);
        let committed = render(&before, "1.23.2", "1.31.1");
        let after = same_both(&[("simple__a", true), ("simple__b", false)]);
        let v = check(&after, Some(&committed), false);
        assert_eq!(v.errors.len(), 1, "{v:?}");
        assert!(v.errors[0].contains("fewer than the 2 recorded"));
        assert!(
            v.notes
                .iter()
                .any(|n| n.contains("no longer passing") && n.contains("simple/b"))
        );
        let v = check(&after, Some(&committed), true);
        assert!(v.errors.is_empty(), "{v:?}");
    }

    #[test]
    fn more_passes_suggest_writing() {
        let before = same_both(&[("simple__a", true), ("simple__b", false)]);
        let committed = render(&before, "1.23.2", "1.31.1");
        let after = same_both(&[("simple__a", true), ("simple__b", true)]);
        let v = check(&after, Some(&committed), false);
        assert!(v.errors.is_empty(), "{v:?}");
        assert!(v.notes.iter().any(|n| n.contains("--write")), "{v:?}");
        assert!(
            v.notes
                .iter()
                .any(|n| n.contains("newly passing: simple/b")),
            "{v:?}"
        );
    }

    #[test]
    fn missing_committed_report_fails_unless_writing() {
        let rows = same_both(&[("simple__a", true)]);
        let v = check(&rows, None, false);
        assert!(v.errors[0].contains("--write"), "{v:?}");
        assert!(check(&rows, None, true).errors.is_empty());
        let v = check(&rows, Some("# no count line"), false);
        assert!(v.errors[0].contains("no `Passing: N of M` line"), "{v:?}");
    }
}
