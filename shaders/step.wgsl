// step.wgsl — prelude prepended to every kernel (WGSL has no #include).
// The per-step scalars live in one uniform at group 1, binding 0, bound with a dynamic offset:
// slot 0 for training, one slot per chunk when evaluating. Changing the batch size is a 16-byte
// write to this buffer, never a pipeline recompilation.
struct Step {
    m: u32,          // examples in this batch (1 … m_max)
    offset: u32,     // first index into the permutation (or into the split when use_perm = 0)
    lr: f32,         // α for the SGD update
    inv_m: f32,      // 1 / m
    use_perm: u32,   // 1: example i is perm[offset + i]; 0: offset + i
    stats_slot: u32, // where reduce_stats writes its four sums
    with_norms: u32, // 1: per-example norms were computed this step
    _pad: u32,
}
@group(1) @binding(0) var<uniform> step: Step;
