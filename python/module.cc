// _lockstep: the C++ behind the Python package `lockstep` (python/lockstep).
// The record stream's writer, the XXH3 digests and the data layer are
// lockstep's own code, bound here, so a PyTorch loop writes the bytes
// lockstep's trainer would and reads the batches it trains on. The Python
// side only turns tensors into numbers and buffers.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/hexfloat.h"
#include "data/manifest.h"
#include "data/sampler.h"
#include "data/synth.h"
#include "data/token_source.h"
#include "trainer/record_stream.h"
#include "trainer/tensor_trace.h"

namespace py = pybind11;

namespace lockstep::python {
namespace {

// Expected failures become ValueError with the Status's message: it already
// names the file, key or argument and the fix.
void Check(const Status& status) {
  if (!status.ok()) throw py::value_error(status.message());
}
template <typename T>
T Take(Result<T> result) {
  Check(result.status());
  return std::move(result).value();
}

nlohmann::ordered_json JsonArg(const std::string& text, const char* what) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw py::value_error(std::string(what) + " must be a JSON object");
  return j;
}

// XXH3-64 of token ids as little-endian uint32 in order: the record stream's
// batch_digest (data::BatchDigest for lockstep's own batches).
std::uint64_t TokenDigest(const py::array_t<std::int64_t, py::array::c_style>& tokens) {
  const std::int64_t* v = tokens.data();
  std::vector<std::uint32_t> ids(static_cast<std::size_t>(tokens.size()));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (v[i] < 0 || v[i] > 0xffffffffLL) {
      throw py::value_error("batch: token id " + std::to_string(v[i]) + " at index " +
                            std::to_string(i) + " is not a uint32; pass the step's token ids");
    }
    ids[i] = static_cast<std::uint32_t>(v[i]);
  }
  return Xxh3_64(ids.data(), ids.size() * sizeof(std::uint32_t));
}

// The manifest, its blend schedule, the sampler and the verified shards:
// the sample at (step, slot) of lockstep's trainer, for any step, with no
// state to save.
class Data {
 public:
  Data(const std::string& manifest, std::uint64_t global_batch, std::uint32_t seq_len) {
    const std::string path = manifest == "embedded" ? Take(data::EmbeddedManifestPath()) : manifest;
    manifest_ = Take(data::LoadManifest(path));
    if (seq_len > 0) manifest_.seq_len = seq_len;
    if (global_batch == 0) throw py::value_error("global_batch must be at least 1");
    sampler_.emplace(Take(data::Sampler::Create(manifest_, global_batch)));
    source_.emplace(Take(data::TokenSource::Open(manifest_)));
  }
  // (slots, seq_len + 1) token ids of `step` from slot `first_slot` on.
  py::array_t<std::uint32_t> Batch(std::uint64_t step, std::uint64_t first_slot,
                                   std::uint64_t slots) const {
    if (first_slot + slots > sampler_->global_batch()) {
      throw py::value_error("slots " + std::to_string(first_slot) + ".." +
                            std::to_string(first_slot + slots) + " are past the global batch of " +
                            std::to_string(sampler_->global_batch()));
    }
    const std::size_t width = std::size_t{sampler_->seq_len()} + 1;
    py::array_t<std::uint32_t> out(
        {static_cast<py::ssize_t>(slots), static_cast<py::ssize_t>(width)});
    data::FillBatch(*sampler_, *source_, step, first_slot, slots,
                    std::span<std::uint32_t>(out.mutable_data(), slots * width));
    return out;
  }
  std::uint64_t BatchDigest(std::uint64_t step) const {
    return data::BatchDigest(*sampler_, *source_, step);
  }
  std::uint32_t seq_len() const { return sampler_->seq_len(); }
  std::uint32_t vocab_size() const { return manifest_.vocab_size; }
  std::uint64_t global_batch() const { return sampler_->global_batch(); }
  std::string manifest_digest() const { return Hex64(manifest_.Digest()); }
  std::vector<std::pair<std::string, std::string>> corpora() const {
    return manifest_.CorpusDigests();
  }

 private:
  data::Manifest manifest_;
  std::optional<data::Sampler> sampler_;
  std::optional<data::TokenSource> source_;
};

// The bytes of a C-contiguous buffer, as stored: digests are over these.
std::pair<const void*, std::size_t> ContiguousBytes(const py::buffer& b, const char* what) {
  const py::buffer_info info = b.request();
  py::ssize_t expect = info.itemsize;
  for (py::ssize_t k = info.ndim - 1; k >= 0; --k) {
    if (info.shape[static_cast<std::size_t>(k)] > 1 &&
        info.strides[static_cast<std::size_t>(k)] != expect) {
      throw py::value_error(std::string(what) + " needs a C-contiguous buffer");
    }
    expect *= info.shape[static_cast<std::size_t>(k)];
  }
  return {info.ptr, static_cast<std::size_t>(info.size * info.itemsize)};
}

}  // namespace
}  // namespace lockstep::python

PYBIND11_MODULE(_lockstep, m) {
  using namespace lockstep;
  using namespace lockstep::python;
  m.doc() = "lockstep's C++ core for the Python package: record stream, digests, data";

  m.def(
      "hex_float", [](double v) { return HexFloat(v); }, "The exact C99 hex text of a float");
  m.def("token_digest", &TokenDigest, py::arg("tokens"),
        "XXH3-64 of int64 token ids as little-endian uint32, in order (the record's batch_digest)");

  py::class_<Xxh3_64Stream>(m, "Digest64", "Incremental XXH3-64 (the record's param_digest)")
      .def(py::init<>())
      .def("update",
           [](Xxh3_64Stream& d, const py::buffer& b) {
             const auto [bytes, size] = ContiguousBytes(b, "Digest64.update");
             d.Update(bytes, size);
           })
      .def("intdigest", &Xxh3_64Stream::Finish);

  py::class_<trainer::ExternalRecord>(m, "ExternalRecord",
                                      "A record stream written by lockstep's C++ writer")
      .def(py::init([](const std::string& path, const std::string& config, const std::string& env,
                       const std::string& data) {
             return Take(trainer::ExternalRecord::Open(path, JsonArg(config, "config"),
                                                       JsonArg(env, "env"), JsonArg(data, "data")));
           }),
           py::arg("path"), py::arg("config"), py::arg("env"), py::arg("data"))
      .def(
          "step",
          [](trainer::ExternalRecord& r, std::int64_t step, double loss, bool loss_single,
             std::optional<double> grad_norm, bool grad_norm_single, std::optional<double> lr,
             bool lr_single, std::optional<std::uint64_t> tokens,
             std::optional<std::uint64_t> batch_digest, std::optional<std::uint64_t> param_digest,
             std::optional<std::uint64_t> mem_peak_bytes,
             std::optional<std::uint64_t> rss_peak_bytes, std::optional<double> step_ms,
             std::optional<std::uint64_t> grad_zeros, std::optional<std::string> params_unchanged,
             const std::string& params_changed) {
            trainer::ExternalStep s;
            s.step = step;
            s.loss = loss;
            s.loss_single = loss_single;
            s.grad_norm = grad_norm;
            s.grad_norm_single = grad_norm_single;
            s.lr = lr;
            s.lr_single = lr_single;
            s.tokens = tokens;
            s.batch_digest = batch_digest;
            s.param_digest = param_digest;
            s.mem_peak_bytes = mem_peak_bytes;
            s.rss_peak_bytes = rss_peak_bytes;
            s.step_ms = step_ms;
            s.grad_zeros = grad_zeros;
            s.params_unchanged = params_unchanged;
            s.params_changed = JsonArg(params_changed, "params_changed");
            Check(r.Step(s));
          },
          py::arg("step"), py::arg("loss"), py::arg("loss_single"), py::arg("grad_norm"),
          py::arg("grad_norm_single"), py::arg("lr"), py::arg("lr_single"), py::arg("tokens"),
          py::arg("batch_digest"), py::arg("param_digest"), py::arg("mem_peak_bytes"),
          py::arg("rss_peak_bytes"), py::arg("step_ms"), py::arg("grad_zeros"),
          py::arg("params_unchanged"), py::arg("params_changed"))
      .def_property_readonly("stopped", &trainer::ExternalRecord::stopped);

  py::class_<trainer::TensorTrace>(
      m, "TensorTrace",
      "One step's tensor trace, in the format `lockstep train --trace-step` writes")
      .def(py::init([](const std::string& dir, int rank, const std::string& values) {
             return Take(
                 trainer::TensorTrace::Open(dir, rank, Take(trainer::TraceValues::Parse(values))));
           }),
           py::arg("dir"), py::arg("rank"), py::arg("values"))
      .def("begin", &trainer::TensorTrace::Begin, py::arg("phase"), py::arg("micro_batch"))
      .def(
          "add",
          [](trainer::TensorTrace& t, const std::string& name, const std::string& dtype,
             const py::buffer& stored,
             const py::array_t<float, py::array::c_style | py::array::forcecast>& values) {
            const auto [bytes, size] = ContiguousBytes(stored, "TensorTrace.add");
            t.AddStored(name, dtype, bytes, size, values.data(),
                        static_cast<std::size_t>(values.size()));
          },
          py::arg("name"), py::arg("dtype"), py::arg("stored"), py::arg("values"),
          "stored: the tensor's bytes as stored (digested); values: its elements as float32 "
          "(statistics, kept values)")
      .def("close", [](trainer::TensorTrace& t) { Check(t.Close()); });

  py::class_<Data>(m, "Data", "lockstep's pinned, blended data: the batch of any step")
      .def(py::init<const std::string&, std::uint64_t, std::uint32_t>(), py::arg("manifest"),
           py::arg("global_batch"), py::arg("seq_len"))
      .def("batch", &Data::Batch, py::arg("step"), py::arg("first_slot"), py::arg("slots"))
      .def("batch_digest", &Data::BatchDigest, py::arg("step"))
      .def_property_readonly("seq_len", &Data::seq_len)
      .def_property_readonly("vocab_size", &Data::vocab_size)
      .def_property_readonly("global_batch", &Data::global_batch)
      .def_property_readonly("manifest_digest", &Data::manifest_digest)
      .def_property_readonly("corpora", &Data::corpora);
}
