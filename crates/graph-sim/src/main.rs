//! `teams-graph-sim`: serves a simulated Teams tenant (see the graph_sim crate).
fn main() {}
