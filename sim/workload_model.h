// Parsing of the architecture model types (workload.model "transformer" and "layers") and of
// workload.precision, with their defaults (docs/SCENARIO_FORMAT.md#workloadmodel).  Internal to
// sim/: sim/scenario.cc calls it; the rest of sim/ reads Workload::layers.
#pragma once

namespace geotrain::sim {

class JsonReader;
struct Workload;

// Reads a {"type": "transformer", ...} object into w.transformer, w.layers, w.parameters and
// w.flops_per_sample.  Throws BadInput (heads not dividing d_model, kv_heads not dividing heads,
// sizes out of range, a model beyond the parameter or FLOP limits).
void parse_transformer(JsonReader& model, Workload& w);

// Reads a {"type": "layers", "layers": [{name, parameters, forward_flops, backward_flops?}, ...]}
// object the same way.  Throws BadInput (an empty list, negative figures, no parameters at all).
void parse_layer_list(JsonReader& model, Workload& w);

// Reads workload "precision" {params, optimizer_state} and "wire_bytes_per_param" from the
// workload object `r`.  REQUIRES: w.model_type set.  Throws BadInput (both wire_bytes_per_param
// and precision.params given, an unknown dtype).
void parse_precision(JsonReader& r, Workload& w);

}  // namespace geotrain::sim
