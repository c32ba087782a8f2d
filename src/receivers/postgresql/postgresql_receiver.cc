#include "receivers/postgresql/postgresql_receiver.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <memory>
#include <vector>

#include "net/libpq.h"
#include "receivers/common/ingest.h"
#include "receivers/postgresql/options.h"
#include "receivers/postgresql/source.h"
#include "scheduler/scheduler.h"

namespace sluice::receivers::postgresql {
namespace {

class PostgresqlReceiver final : public pipeline::Receiver {
 public:
  PostgresqlReceiver(const pipeline::ComponentSettings& settings, const PostgresqlOptions& options,
                     std::shared_ptr<const Plan> plan, pipeline::Runtime& rt)
      : settings_(settings),
        rt_(rt),
        counters_(rt.metrics, settings.id, "samples"),
        in_flight_(std::make_shared<scheduler::InFlight>()) {
    ctx_.plan = std::move(plan);
    for (const SourcePlan& p : ctx_.plan->sources) {
      longest_tick_ = std::max(longest_tick_, TickBound(p, options));
    }
    ctx_.name_space = options.name_space;
    ctx_.connect_timeout = options.connect_timeout;
    ctx_.statement_timeout = options.statement_timeout;
    ctx_.reconnect = options.reconnect;
    ctx_.rt = &rt;
    ctx_.pipelines = settings.pipelines;
    ctx_.receiver = settings.id;
    ctx_.counters = &counters_;
    ctx_.metric_errors = &rt.metrics.AddCounter(
        "sluice_receiver_postgresql_metric_errors_total",
        "Metric queries a postgresql receiver's sources answered with an error (the source's "
        "other metrics are unaffected).",
        {"receiver", "metric"});
    ctx_.connect_failures =
        &rt.metrics
             .AddCounter("sluice_receiver_postgresql_failures_total",
                         "Connections of a postgresql receiver's sources that failed or were "
                         "closed after a failed round trip (pg_up 0).",
                         {"receiver"})
             .With({settings.id});
    ctx_.round_trips = &rt.metrics
                            .AddCounter("sluice_receiver_postgresql_round_trips_total",
                                        "Pipelined round trips of a postgresql receiver (one per "
                                        "source and tick).",
                                        {"receiver"})
                            .With({settings.id});
    ctx_.shared = &rt.metrics
                       .AddCounter("sluice_receiver_postgresql_shared_answers_total",
                                   "Instance-level metric answers a source took from another "
                                   "source on the same server instead of fetching them.",
                                   {"receiver"})
                       .With({settings.id});
    rt.metrics
        .AddGauge("sluice_receiver_postgresql_sources", "Sources a postgresql receiver monitors.",
                  {"receiver"})
        .With({settings.id})
        .Set(static_cast<double>(ctx_.plan->sources.size()));
  }

  ~PostgresqlReceiver() override { Shutdown(); }

  Status Start() override {
    scheduler_ = std::make_unique<scheduler::Scheduler>(rt_.io, rt_.clock);
    for (const SourcePlan& p : ctx_.plan->sources) {
      const uint64_t hash = XXH3_64bits(p.source.name.data(), p.source.name.size());
      auto loop = std::make_shared<SourceLoop>(ctx_, p, hash);
      scheduler::Task task;
      task.cadence = scheduler::Cadence::kAfterDone;
      task.interval = p.tick;
      task.timeout = p.tick;
      // The first ticks spread over one tick by the source's name.
      task.offset = scheduler::OffsetOf(hash, p.tick);
      task.run = [loop, in_flight = in_flight_](int64_t, scheduler::Done done) {
        loop->Run(in_flight->Track(std::move(done)));
      };
      scheduler_->Add(std::move(task));
      loops_.push_back(std::move(loop));
    }
    return Status::Ok();
  }
  std::vector<std::string> Addresses() const override { return {}; }
  void StopAccepting() override {
    if (scheduler_) scheduler_->Stop();
  }
  bool Drain(pipeline::Deadline deadline) override {
    return in_flight_->WaitIdle(deadline - std::chrono::steady_clock::now());
  }
  void Shutdown() override {
    if (scheduler_) scheduler_->Stop();
    // A tick ends by its own deadlines.
    in_flight_->WaitIdle(longest_tick_);
    for (auto& loop : loops_) loop->Close();
    loops_.clear();
  }

 private:
  const pipeline::ComponentSettings settings_;
  pipeline::Runtime& rt_;
  IngestCounters counters_;
  SourceContext ctx_;
  std::shared_ptr<scheduler::InFlight> in_flight_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::vector<std::shared_ptr<SourceLoop>> loops_;
  std::chrono::nanoseconds longest_tick_{0};
};

}  // namespace

pipeline::ComponentType PostgresqlReceiverType() {
  return pipeline::MakeReceiverType(
      "postgresql",
      "Metrics by SQL from PostgreSQL sources in pgwatch's model (sources, metric definitions, "
      "presets), one pipelined round trip per source and tick (docs/collection.md).",
      {log::Signal::kMetrics}, PostgresqlOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const PostgresqlOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Receiver>> {
        SLUICE_RETURN_IF_ERROR(net::LoadLibPq().status());
        SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, MakePlan(o));
        return std::unique_ptr<pipeline::Receiver>(
            new PostgresqlReceiver(s, o, std::move(plan), rt));
      });
}

}  // namespace sluice::receivers::postgresql
