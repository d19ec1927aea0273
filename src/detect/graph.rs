//! [`Graph`]: the detectors of one run and the detectors they read, each once. A detector
//! that several others read (swings under structure, order blocks and liquidity; structure
//! under order blocks, mitigation blocks and MSS) steps once per bar for all of them, and a
//! requested detector that another one also reads is that same node.

use super::history::History;
use super::registry::{Detector, Inputs, NativeSpec};
use crate::error::Result;

/// Detectors in dependency order: every node's inputs come before it.
pub struct Graph {
    specs: Vec<NativeSpec>,
    nodes: Vec<Box<dyn Detector>>,
    /// Per node, the nodes it reads, in its declaration's input order.
    inputs: Vec<Vec<usize>>,
}

impl Graph {
    /// The graph of `specs`; returns it and the node of each spec.
    pub fn new(specs: &[NativeSpec]) -> Result<(Self, Vec<usize>)> {
        let mut graph = Self {
            specs: Vec::new(),
            nodes: Vec::new(),
            inputs: Vec::new(),
        };
        let ids = specs
            .iter()
            .map(|s| graph.add(s, 0))
            .collect::<Result<Vec<_>>>()?;
        Ok((graph, ids))
    }

    /// The node of `spec`, added after its inputs if it is not there yet.
    fn add(&mut self, spec: &NativeSpec, depth: usize) -> Result<usize> {
        if let Some(id) = self.specs.iter().position(|s| s == spec) {
            return Ok(id);
        }
        if depth > 16 {
            // Declarations are a fixed, acyclic list; this guards against a bad new one.
            return Err(crate::error::IctError::Internal {
                context: format!("native detector {}", spec.name()),
                message: "its inputs nest more than 16 deep (a cycle?)".into(),
            });
        }
        let inputs = spec
            .inputs()?
            .iter()
            .map(|s| self.add(s, depth + 1))
            .collect::<Result<Vec<_>>>()?;
        self.nodes.push(spec.build()?);
        self.specs.push(spec.clone());
        self.inputs.push(inputs);
        Ok(self.nodes.len() - 1)
    }

    /// Number of nodes (requested detectors and their inputs).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Steps every node over the newest bar of `history`, inputs first.
    pub fn step(&mut self, history: &History) -> Result<()> {
        for i in 0..self.nodes.len() {
            let (done, rest) = self.nodes.split_at_mut(i);
            let inputs = Inputs {
                done,
                ids: &self.inputs[i],
            };
            if let Some(node) = rest.first_mut() {
                node.step(history, &inputs)?;
            }
        }
        Ok(())
    }

    /// Takes the newest bar back from every node, readers before what they read.
    pub fn undo(&mut self) {
        for node in self.nodes.iter_mut().rev() {
            node.undo();
        }
    }

    /// Room for a batch run of `bars` bars.
    pub fn reserve(&mut self, bars: usize) {
        for node in &mut self.nodes {
            node.reserve(bars);
        }
    }

    /// Each node's state, in node order (a checkpoint's).
    pub fn states(&self) -> Result<Vec<Vec<u8>>> {
        self.nodes.iter().map(|n| n.save()).collect()
    }

    /// Gives each node its state from a checkpoint (as many states as nodes, in order).
    pub fn load(&mut self, states: &[Vec<u8>]) -> Result<()> {
        if states.len() != self.nodes.len() {
            return Err(super::checkpoint::corrupt(format!(
                "{} detector states for {} detectors",
                states.len(),
                self.nodes.len()
            )));
        }
        for (node, state) in self.nodes.iter_mut().zip(states) {
            node.load(state)?;
        }
        Ok(())
    }

    /// Node `id`.
    pub fn node(&self, id: usize) -> Option<&dyn Detector> {
        self.nodes.get(id).map(|n| &**n)
    }

    /// Node `id`, to change (a live session dropping reported rows of its logs).
    pub fn node_mut(&mut self, id: usize) -> Option<&mut dyn Detector> {
        match self.nodes.get_mut(id) {
            Some(n) => Some(&mut **n),
            None => None,
        }
    }

    /// Whether another node reads node `id` (its rows may then be read again).
    pub fn is_read(&self, id: usize) -> bool {
        self.inputs.iter().any(|ids| ids.contains(&id))
    }

    /// Drops the rows nobody can ask for again, so a long-running graph holds what is still
    /// open rather than its history: `handed` gives, per requested node, the rows of each
    /// table already handed out (those may go); a node nobody requested has no table to
    /// hand out (all its rows may go). A node read by a detector that reads back
    /// ([`Detector::reads_back`]) keeps everything.
    pub fn forget_handed(&mut self, handed: &[(usize, &[usize])]) {
        for id in 0..self.nodes.len() {
            let reread = self
                .inputs
                .iter()
                .zip(&self.nodes)
                .any(|(ids, reader)| ids.contains(&id) && reader.reads_back());
            if reread {
                continue;
            }
            let requested = handed.iter().find(|(node, _)| *node == id);
            let Some(node) = self.nodes.get_mut(id) else {
                continue;
            };
            let tables = self.specs.get(id).map_or(0, |s| s.tables().count());
            for which in 0..tables {
                let upto = match requested {
                    Some((_, rows)) => rows.get(which).copied().unwrap_or(0),
                    None => node.rows(which),
                };
                node.forget(which, upto);
            }
        }
    }
}
