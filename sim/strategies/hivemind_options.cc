// The hivemind strategy's knobs and options.
#include "sim/strategies/hivemind_options.h"

#include "sim/json_reader.h"

namespace geotrain::sim {

std::vector<KnobSpec> hivemind_knobs() {
  const nlohmann::json unset;  // a default that depends on other knobs (default_text)
  return {
      {"target_batch", KnobType::number, 32768, 1, 1e12, false, {}, "samples the swarm accumulates per round"},
      {"matchmaking_s", KnobType::number, 5.0, 0, JsonReader::kInf, false, {},
       "blocking fixed cost per round: forming the averaging group (matchmaking, DHT) (s)"},
      {"compression", KnobType::choice, "fp16", 0, 0, false, {"fp32", "fp16", "bf16"}, "format of the averaged gradients"},
      {"delay_grad_averaging", KnobType::boolean, false, 0, 0, false, {},
       "average gradients in the background and apply them one round late (hivemind's default: false, "
       "training waits for the averaging); needs delay_optimizer_step"},
      {"delayed_update", KnobType::boolean, unset, 0, 0, false, {}, "former name of delay_grad_averaging",
       "delay_grad_averaging"},
      {"delay_optimizer_step", KnobType::boolean, unset, 0, 0, false, {},
       "run the optimizer step in the background (hivemind: needs offload_optimizer)", "delay_grad_averaging"},
      {"offload_optimizer", KnobType::boolean, true, 0, 0, false, {},
       "the optimizer steps on the host (hivemind's default when given params): time from host_memory_GBps"},
      {"host_memory_GBps", KnobType::number, 0.0, 0, JsonReader::kInf, false, {},
       "host memory bandwidth of an offloaded optimizer step (GB/s); 0: unknown, the step takes no time"},
      {"averager_GBps", KnobType::number, 0.0, 0, JsonReader::kInf, false, {},
       "the averager's throughput per peer, bytes sent (GB/s); 0: unbounded (network only)"},
      {"accumulate_s", KnobType::number, 0.0, 0, JsonReader::kInf, false, {},
       "per micro-step cost of accumulating the gradients and reporting progress (s)"}};
}

HivemindOptions read_hivemind_options(JsonReader& reader, const std::vector<KnobSpec>& knobs) {
  HivemindOptions o;
  o.target_batch = read_number(reader, knob_of(knobs, "target_batch"));
  o.matchmaking_s = read_number(reader, knob_of(knobs, "matchmaking_s"));
  o.compression = *kernels::parse_wire_format(read_choice(reader, knob_of(knobs, "compression")));
  if (reader.has("delayed_update") && reader.has("delay_grad_averaging"))
    reader.fail("delayed_update", "give delay_grad_averaging (its new name) or delayed_update, not both");
  o.delay_grad_averaging = reader.has("delayed_update")
                               ? read_boolean(reader, knob_of(knobs, "delayed_update"), false)
                               : read_boolean(reader, knob_of(knobs, "delay_grad_averaging"));
  reader.allow("delayed_update");
  reader.allow("delay_grad_averaging");
  o.delay_optimizer_step = read_boolean(reader, knob_of(knobs, "delay_optimizer_step"), o.delay_grad_averaging);
  o.offload_optimizer = read_boolean(reader, knob_of(knobs, "offload_optimizer"));
  if (o.delay_grad_averaging && !o.delay_optimizer_step)
    reader.fail("delay_optimizer_step", "true when delay_grad_averaging is true (hivemind: delay_grad_averaging "
                                        "requires delay_optimizer_step)");
  if (o.delay_optimizer_step && !o.offload_optimizer)
    reader.fail("offload_optimizer", "true when delay_optimizer_step is true (hivemind: the background step "
                                     "runs on the offloaded optimizer)");
  o.host_memory_Bps = read_number(reader, knob_of(knobs, "host_memory_GBps")) * 1e9;
  o.averager_Bps = read_number(reader, knob_of(knobs, "averager_GBps")) * 1e9;
  o.accumulate_s = read_number(reader, knob_of(knobs, "accumulate_s"));
  return o;
}

}  // namespace geotrain::sim
