// step.wgsl — prelude prepended to every kernel (WGSL has no #include).
// The per-chunk scalars live in one uniform at group 1, binding 0, bound with a dynamic offset:
// one slot per chunk of a training step (a batch of m runs as ⌈m / chunk⌉ chunks), one per
// chunk when evaluating. Changing the batch size is a write to this buffer, never a pipeline
// recompilation.
struct Step {
    m: u32,          // examples in this chunk (1 … chunk)
    offset: u32,     // first index into the permutation (or into the split when use_perm = 0)
    lr: f32,         // α for the SGD update
    inv_m: f32,      // 1 / examples in the whole batch (gradients are means over the batch)
    use_perm: u32,   // 1: example i is perm[offset + i]; 0: offset + i
    stats_slot: u32, // where reduce_stats writes its four sums
    with_norms: u32, // 1: per-example norms were computed this step
    row_base: u32,   // this chunk's first row in the batch: where its per-example statistics go
    batch: u32,      // examples in the whole batch (what reduce_stats sums over)
    accumulate: u32, // 1 on every chunk but the first: gradients add to the earlier chunks'
    _pad0: u32,
    _pad1: u32,
}
@group(1) @binding(0) var<uniform> step: Step;
