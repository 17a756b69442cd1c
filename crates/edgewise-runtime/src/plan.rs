//! Splits a model into stages: runs of standard operators (CPU stages, one tract plan each)
//! and runs of edgewise operators (GPU stages).
//!
//! Nodes are ordered topologically, preferring at each step a ready node of the same kind as
//! the last one, so independent branches do not cut a GPU chain into several stages.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::{GraphProto, NodeProto};

/// Which side a stage runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageKind {
    /// Standard ONNX operators, run by tract on the CPU.
    Cpu,
    /// edgewise operators, run on the GPU when one is there.
    Gpu,
}

/// One planned stage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StageSpec {
    pub kind: StageKind,
    /// Indices into the graph's nodes, in execution order.
    pub nodes: Vec<usize>,
    /// Values the stage reads that come from the graph inputs or earlier stages (initializers
    /// excluded).
    pub inputs: Vec<String>,
    /// Values the stage produces that later stages or the graph outputs read.
    pub outputs: Vec<String>,
}

fn is_edgewise(node: &NodeProto) -> bool {
    node.domain == edgewise_ops::DOMAIN
}

/// Names a node reads, sub-graphs' references to outer values included.
fn reads(node: &NodeProto) -> Vec<String> {
    let mut names: Vec<String> = node
        .input
        .iter()
        .filter(|n| !n.is_empty())
        .cloned()
        .collect();
    for attr in &node.attribute {
        for g in attr.g.iter().chain(attr.graphs.iter()) {
            outer_reads(g, &mut names);
        }
    }
    names
}

/// Values a sub-graph reads from its enclosing scope.
fn outer_reads(g: &GraphProto, out: &mut Vec<String>) {
    let mut local: HashSet<&str> = g.input.iter().map(|i| i.name.as_str()).collect();
    local.extend(g.initializer.iter().map(|t| t.name.as_str()));
    for node in &g.node {
        for name in reads(node) {
            if !local.contains(name.as_str()) {
                out.push(name);
            }
        }
        local.extend(node.output.iter().map(|s| s.as_str()));
    }
}

/// Plans the stages of a graph.
pub(crate) fn stages(g: &GraphProto) -> Vec<StageSpec> {
    let order = kind_order(g);
    group(g, &order, |_| 0)
}

/// Plans the stages of a graph with early exits: `exits` are output names, in the order they
/// are computed. Part `j` holds the nodes that `exits[j]` needs and no earlier exit needs;
/// the nodes no exit needs come last. Each part is split by kind as [`stages`] does. Returns
/// the stages and, per exit, the index of the last stage of its part (after which it can be
/// read).
pub(crate) fn exit_stages(
    g: &GraphProto,
    exits: &[String],
) -> std::result::Result<(Vec<StageSpec>, Vec<usize>), String> {
    let producer = producers(g);
    let node_reads: Vec<Vec<String>> = g.node.iter().map(reads).collect();
    let mut part = vec![exits.len(); g.node.len()];
    for (j, exit) in exits.iter().enumerate() {
        if !g.output.iter().any(|o| &o.name == exit) {
            return Err(format!("exit '{exit}' is not an output of the model"));
        }
        // Every ancestor of the exit not claimed by an earlier exit.
        let mut stack: Vec<usize> = producer.get(exit.as_str()).copied().into_iter().collect();
        let mut seen = HashSet::new();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            if part[n] > j {
                part[n] = j;
            }
            stack.extend(
                node_reads[n]
                    .iter()
                    .filter_map(|r| producer.get(r.as_str()).copied()),
            );
        }
    }
    // A stable sort by part keeps the order topological: a node's inputs are needed by every
    // exit that needs the node, so their part is never later.
    let mut order = kind_order(g);
    order.sort_by_key(|&i| part[i]);
    let specs = group(g, &order, |i| part[i]);
    let last_of_part = (0..exits.len())
        .map(|j| {
            specs
                .iter()
                .rposition(|s| s.nodes.first().is_some_and(|&n| part[n] == j))
                .ok_or_else(|| {
                    format!(
                        "exit '{}' needs no node beyond what earlier exits need: list the \
                         exits in the order the model computes them",
                        exits[j]
                    )
                })
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((specs, last_of_part))
}

fn producers(g: &GraphProto) -> HashMap<&str, usize> {
    g.node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect()
}

fn kind_of(node: &NodeProto) -> StageKind {
    if is_edgewise(node) {
        StageKind::Gpu
    } else {
        StageKind::Cpu
    }
}

/// The nodes in a topological order that prefers, at each step, a ready node of the same kind
/// as the last one.
fn kind_order(g: &GraphProto) -> Vec<usize> {
    let producer = producers(g);
    let deps: Vec<HashSet<usize>> = g
        .node
        .iter()
        .map(|n| {
            reads(n)
                .iter()
                .filter_map(|n| producer.get(n.as_str()).copied())
                .collect()
        })
        .collect();
    let mut done = vec![false; g.node.len()];
    let mut order = Vec::with_capacity(g.node.len());
    let mut current = g.node.first().map(is_edgewise).unwrap_or(false);
    while order.len() < g.node.len() {
        let ready = |i: usize| !done[i] && deps[i].iter().all(|&d| done[d]);
        let next = (0..g.node.len())
            .find(|&i| ready(i) && is_edgewise(&g.node[i]) == current)
            .or_else(|| (0..g.node.len()).find(|&i| ready(i)));
        let Some(i) = next else {
            // A cycle: keep the file's order for what is left; tract will report it.
            order.extend((0..g.node.len()).filter(|&i| !done[i]));
            break;
        };
        current = is_edgewise(&g.node[i]);
        done[i] = true;
        order.push(i);
    }
    order
}

/// Groups consecutive nodes of `order` with the same kind and `part` into stages, with the
/// values each stage reads from outside it and those later stages or the graph outputs read.
fn group(g: &GraphProto, order: &[usize], part: impl Fn(usize) -> usize) -> Vec<StageSpec> {
    let initializers: HashSet<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    let producer = producers(g);
    let node_reads: Vec<Vec<String>> = g.node.iter().map(reads).collect();
    let mut specs: Vec<StageSpec> = Vec::new();
    let mut last_part = None;
    for &i in order {
        let kind = kind_of(&g.node[i]);
        match specs.last_mut() {
            Some(s) if s.kind == kind && last_part == Some(part(i)) => s.nodes.push(i),
            _ => specs.push(StageSpec {
                kind,
                nodes: vec![i],
                inputs: vec![],
                outputs: vec![],
            }),
        }
        last_part = Some(part(i));
    }
    // Inputs and outputs of each stage.
    let graph_outputs: HashSet<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
    let stage_of: HashMap<usize, usize> = specs
        .iter()
        .enumerate()
        .flat_map(|(s, spec)| spec.nodes.iter().map(move |&n| (n, s)))
        .collect();
    let mut outputs: Vec<Vec<String>> = vec![vec![]; specs.len()];
    for (s, spec) in specs.iter_mut().enumerate() {
        let mut seen = HashSet::new();
        for &n in &spec.nodes {
            for name in &node_reads[n] {
                let from = producer.get(name.as_str()).map(|p| stage_of[p]);
                let external = match from {
                    Some(p) => p != s,
                    None => !initializers.contains(name.as_str()),
                };
                if external && seen.insert(name.clone()) {
                    spec.inputs.push(name.clone());
                    if let Some(p) = from
                        && !outputs[p].contains(name)
                    {
                        outputs[p].push(name.clone());
                    }
                }
            }
        }
    }
    for (s, spec) in specs.iter_mut().enumerate() {
        let mut outs = std::mem::take(&mut outputs[s]);
        for &n in &spec.nodes {
            for o in &g.node[n].output {
                if graph_outputs.contains(o.as_str()) && !outs.contains(o) {
                    outs.push(o.clone());
                }
            }
        }
        spec.outputs = outs;
    }
    specs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, domain: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
        NodeProto {
            name: name.into(),
            op_type: if domain.is_empty() {
                "Relu"
            } else {
                "BorderRound"
            }
            .into(),
            domain: domain.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn graph(nodes: Vec<NodeProto>, outputs: &[&str]) -> GraphProto {
        GraphProto {
            node: nodes,
            output: outputs
                .iter()
                .map(|o| tract_onnx::pb::ValueInfoProto {
                    name: o.to_string(),
                    ..Default::default()
                })
                .collect(),
            initializer: vec![tract_onnx::pb::TensorProto {
                name: "w".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn alternating_kinds_make_stages_with_their_boundaries() {
        let e = edgewise_ops::DOMAIN;
        let g = graph(
            vec![
                node("a", "", &["x"], &["a"]),
                node("b", e, &["a", "w"], &["b"]),
                node("c", e, &["b"], &["c"]),
                node("d", "", &["c", "a"], &["y"]),
            ],
            &["y", "b"],
        );
        let s = stages(&g);
        let kinds: Vec<_> = s.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [StageKind::Cpu, StageKind::Gpu, StageKind::Cpu]);
        assert_eq!(s[0].inputs, ["x"]);
        assert_eq!(s[0].outputs, ["a"]);
        assert_eq!(s[1].nodes, [1, 2]);
        assert_eq!(s[1].inputs, ["a"], "the initializer w is not a stage input");
        assert_eq!(s[1].outputs, ["c", "b"]);
        assert_eq!(s[2].inputs, ["c", "a"]);
        assert_eq!(s[2].outputs, ["y"]);
    }

    #[test]
    fn independent_branches_do_not_split_a_gpu_chain() {
        let e = edgewise_ops::DOMAIN;
        // File order interleaves a CPU branch between two GPU nodes of one chain.
        let g = graph(
            vec![
                node("g1", e, &["x"], &["g1"]),
                node("c1", "", &["x"], &["c1"]),
                node("g2", e, &["g1"], &["g2"]),
                node("c2", "", &["g2", "c1"], &["y"]),
            ],
            &["y"],
        );
        let s = stages(&g);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].nodes, [0, 2]);
        assert_eq!(s[1].nodes, [1, 3]);
    }

    #[test]
    fn exits_cut_the_graph_where_each_exit_can_be_read() {
        // x → a → b → c → y; exit e0 reads a, exit e1 reads b; y is the last output.
        let g = graph(
            vec![
                node("a", "", &["x"], &["a"]),
                node("h0", "", &["a"], &["e0"]),
                node("b", "", &["a"], &["b"]),
                node("h1", "", &["b"], &["e1"]),
                node("c", "", &["b"], &["y"]),
            ],
            &["e0", "e1", "y"],
        );
        let exits = ["e0".to_string(), "e1".to_string()];
        let (s, after) = exit_stages(&g, &exits).unwrap();
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(after, [0, 1]);
        assert_eq!(s[0].nodes, [0, 1]);
        assert_eq!(s[0].outputs, ["a", "e0"]);
        assert_eq!(s[1].nodes, [2, 3]);
        assert_eq!(s[1].inputs, ["a"]);
        assert_eq!(s[1].outputs, ["b", "e1"]);
        assert_eq!(s[2].nodes, [4]);
        assert_eq!(s[2].outputs, ["y"]);
        // An exit whose nodes an earlier exit already needs, or one that is not an output:
        // errors that name the problem.
        let g2 = graph(
            vec![
                node("a", "", &["x"], &["e0"]),
                node("b", "", &["e0"], &["e1"]),
            ],
            &["e0", "e1"],
        );
        let wrong = ["e1".to_string(), "e0".to_string()];
        assert!(
            exit_stages(&g2, &wrong)
                .unwrap_err()
                .contains("in the order")
        );
        let missing = ["b".to_string()];
        assert!(
            exit_stages(&g, &missing)
                .unwrap_err()
                .contains("not an output")
        );
    }
}
