#include "log/index.h"

#include <atomic>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "base/crc32c.h"
#include "log/log_fixture.h"
#include "log/paths.h"

namespace sluice::log {
namespace {

// Counts the bytes read from segment files (not index files).
class CountingFileSystem final : public io::ForwardingFileSystem {
 public:
  CountingFileSystem() : ForwardingFileSystem(io::FileSystem::Posix()) {}
  Result<std::unique_ptr<io::RandomAccessFile>> OpenReadable(const std::string& path) override {
    SLUICE_ASSIGN_OR_RETURN(auto file, base().OpenReadable(path));
    bool segment = path.size() > 4 && path.substr(path.size() - 4) == ".seg";
    return std::unique_ptr<io::RandomAccessFile>(new Counting(
        std::move(file), segment ? &segment_bytes_read : &other_bytes_read, this, path));
  }

  std::atomic<uint64_t> segment_bytes_read{0};
  std::atomic<uint64_t> other_bytes_read{0};
  // Segment byte ranges asked for ahead (Prefetch), in the order asked.
  struct Asked {
    std::string path;
    uint64_t offset, length;
  };
  std::mutex mu;
  std::vector<Asked> prefetched;
  // Segment byte ranges read, while record_reads is set.
  std::atomic<bool> record_reads{false};
  std::vector<Asked> segment_reads;
  // Whether the OS holds none of the files in memory (ReadCached).
  std::atomic<bool> cold{false};

 private:
  class Counting final : public io::RandomAccessFile {
   public:
    Counting(std::unique_ptr<io::RandomAccessFile> f, std::atomic<uint64_t>* n,
             CountingFileSystem* fs, std::string path)
        : f_(std::move(f)), n_(n), fs_(fs), path_(std::move(path)) {}
    Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) const override {
      SLUICE_ASSIGN_OR_RETURN(size_t got, f_->Read(offset, out));
      *n_ += got;
      if (fs_->record_reads && n_ == &fs_->segment_bytes_read) {
        std::lock_guard<std::mutex> lock(fs_->mu);
        fs_->segment_reads.push_back({path_, offset, got});
      }
      return got;
    }
    Result<uint64_t> Size() const override { return f_->Size(); }
    Result<size_t> ReadCached(uint64_t offset, std::span<uint8_t> out) const override {
      if (fs_->cold) return size_t{0};
      return Read(offset, out);
    }
    void Prefetch(uint64_t offset, uint64_t length) const override {
      std::lock_guard<std::mutex> lock(fs_->mu);
      fs_->prefetched.push_back({path_, offset, length});
    }

   private:
    std::unique_ptr<io::RandomAccessFile> f_;
    std::atomic<uint64_t>* n_;
    CountingFileSystem* fs_;
    std::string path_;
  };
};

class IndexTest : public LogFixture {
 protected:
  // Small segments, written through the page cache (no O_DIRECT staging
  // buffers for readers to copy from), so reads reach the file system.
  LogOptions Small() {
    LogOptions o = Options();
    o.segment_bytes = 256 << 10;
    o.direct_io = false;
    return o;
  }
  static AppendRequest For(std::string payload, PipelineSet pipelines) {
    AppendRequest r = Batch(std::move(payload));
    r.pipelines = pipelines;
    return r;
  }
};

TEST_F(IndexTest, ReaderOfOnePipelineReadsNoneOfAnotherPipelinesBytes) {
  CountingFileSystem fs;
  auto log = OpenLog(Small(), fs);
  std::vector<std::string> mine;
  uint64_t my_frame_bytes = 0;
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(log->Append(For(std::string(16 << 10, 'L'), {2})).ok());
    if (i % 40 == 0) {
      AppendRequest r = For("metric-" + std::to_string(i), {1});
      my_frame_bytes += FrameSize(r.pipelines, r.tenant.size(), r.payload.size());
      mine.push_back(r.payload);
      ASSERT_TRUE(log->Append(std::move(r)).ok());
    }
  }
  ASSERT_GT(log->Segments().size(), 10u);
  fs.segment_bytes_read = 0;
  Position end;
  EXPECT_EQ(ReadAll(*log, log->Begin(), PipelineSet{1}, &end), mine);
  EXPECT_EQ(end, log->End());
  // Exactly its own frames: not a head of the 6.4 MB of the other pipeline.
  EXPECT_EQ(fs.segment_bytes_read.load(), my_frame_bytes);
}

// The OS reads ahead only where reads follow one another; a reader of one
// pipeline skips the others' frames, so on a cold disk it asks ahead for its
// own: the disk then has its next frames to read while it decodes these. It
// asks for its frames only, each once; on a warm one, for nothing.
TEST_F(IndexTest, FilteredReaderAsksAheadForItsOwnFramesOnlyWhenTheDiskIsCold) {
  CountingFileSystem fs;
  fs.cold = true;
  auto log = OpenLog(Small(), fs);
  std::vector<std::string> mine;
  uint64_t my_frame_bytes = 0;
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(log->Append(For(std::string(12 << 10, 'L'), {2})).ok());
    if (i % 3 == 0) {
      AppendRequest r = For("mine-" + std::to_string(i) + std::string(4000, 'm'), {1});
      mine.push_back(r.payload);
      ASSERT_TRUE(log->Append(std::move(r)).ok());
    }
  }
  const std::vector<uint64_t> segments = log->Segments();
  ASSERT_GT(segments.size(), 20u);
  EXPECT_EQ(ReadAll(*log, log->Begin(), PipelineSet{1}), mine);
  // Own frames per closed segment, from a reader of pipeline 1 alone.
  for (const std::string& p : mine) my_frame_bytes += FrameSize(PipelineSet{1}, 1, p.size());
  uint64_t asked = 0;
  std::set<std::pair<std::string, uint64_t>> seen;
  for (const auto& a : fs.prefetched) {
    EXPECT_TRUE(seen.insert({a.path, a.offset}).second) << "asked twice for " << a.offset;
    asked += a.length;
  }
  // Everything of its own in the closed segments (all but the active one,
  // whose frames are read from the writer's memory), and nothing else.
  EXPECT_LE(asked, my_frame_bytes);
  EXPECT_GE(asked, my_frame_bytes - my_frame_bytes / segments.size() * 3);

  fs.cold = false;
  fs.prefetched.clear();
  EXPECT_EQ(ReadAll(*log, log->Begin(), PipelineSet{1}), mine);
  EXPECT_TRUE(fs.prefetched.empty()) << "everything was in memory";
}

TEST_F(IndexTest, BatchOfTwoPipelinesIsWrittenOnceAndReadByEach) {
  auto log = OpenLog(Small());
  ASSERT_TRUE(log->Append(For("shared", {1, 2})).ok());
  ASSERT_TRUE(log->Append(For("only-2", {2})).ok());
  EXPECT_EQ(CounterValue("sluice_log_appended_batches_total"), 2u);
  EXPECT_EQ(ReadAll(*log, log->Begin(), PipelineSet{1}), std::vector<std::string>{"shared"});
  EXPECT_EQ(ReadAll(*log, log->Begin(), PipelineSet{2}),
            (std::vector<std::string>{"shared", "only-2"}));
  EXPECT_EQ(ReadAll(*log, log->Begin(), PipelineSet{1, 2}),
            (std::vector<std::string>{"shared", "only-2"}));
}

TEST_F(IndexTest, ClosedSegmentHasAnIndexDeletedWithIt) {
  LogOptions o = Small();
  o.retention.max_bytes = 1 << 20;
  // Appends never wait for the retention thread to catch up.
  o.when_full = WhenFull::kDropOldest;
  auto log = OpenLog(o);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(log->Append(For(std::string(20 << 10, 'x'), {1})).ok());
  log->RunRetention();
  std::vector<uint64_t> segments = log->Segments();
  ASSERT_GE(segments.size(), 3u);
  ASSERT_GT(segments.front(), 0u);  // retention deleted the first ones
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    EXPECT_TRUE(io::FileSystem::Posix().Exists(IndexFilePath(dir_.path(), segments[i]))) << i;
  }
  // The active segment's index is in memory only, and no index outlives its
  // segment.
  auto names = io::FileSystem::Posix().ListDir(SegmentDirectory(dir_.path()));
  ASSERT_TRUE(names.ok());
  size_t indexes = 0;
  for (const std::string& name : *names) {
    uint64_t base;
    if (!ParseIndexFileName(name, &base)) continue;
    ++indexes;
    EXPECT_NE(std::find(segments.begin(), segments.end(), base), segments.end()) << name;
  }
  EXPECT_EQ(indexes, segments.size() - 1);
}

TEST_F(IndexTest, MissingOrDamagedIndexIsRebuiltAndReadersLoseNothing) {
  std::vector<std::string> mine;
  std::vector<uint64_t> segments;
  {
    auto log = OpenLog(Small());
    for (int i = 0; i < 60; ++i) {
      std::string p = std::to_string(i) + std::string(10 << 10, 'x');
      if (i % 3 == 0) mine.push_back(p);
      ASSERT_TRUE(log->Append(For(p, {i % 3 == 0 ? 1u : 2u})).ok());
    }
    segments = log->Segments();
  }
  ASSERT_GT(segments.size(), 2u);
  auto& fs = io::FileSystem::Posix();
  std::string missing = IndexFilePath(dir_.path(), segments[0]);
  std::string damaged = IndexFilePath(dir_.path(), segments[1]);
  ASSERT_TRUE(fs.Remove(missing).ok());
  {
    std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(kIndexHeaderSize + 2);
    f.put('\x7f');
  }
  auto log = OpenLog(Small());
  EXPECT_EQ(ReadAll(*log, log->Begin(), PipelineSet{1}), mine);
  // Both were written again, and now read as they are.
  EXPECT_TRUE(fs.Exists(missing));
  auto file = fs.OpenReadable(damaged);
  ASSERT_TRUE(file.ok());
  auto size = fs.FileSize(SegmentFilePath(dir_.path(), segments[1]));
  ASSERT_TRUE(size.ok());
  EXPECT_TRUE(ReadIndexFor(**file, segments[1], *size, PipelineSet{1}).ok());
}

TEST_F(IndexTest, IndexOfAnotherSizeIsNotTrusted) {
  SegmentIndex index;
  index.Add(FrameExtent{kSegmentHeaderSize, 100}, {7});
  std::string data = index.Encode(0, 132);
  std::string path = dir_.path() + "/x.idx";
  {
    std::ofstream f(path, std::ios::binary);
    f << data;
  }
  auto file = io::FileSystem::Posix().OpenReadable(path);
  ASSERT_TRUE(file.ok());
  auto ok = ReadIndexFor(**file, 0, 132, PipelineSet{7});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, (std::vector<FrameExtent>{{kSegmentHeaderSize, 100}}));
  EXPECT_EQ(ReadIndexFor(**file, 0, 4096, PipelineSet{7}).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ReadIndexFor(**file, 132, 132, PipelineSet{7}).status().code(),
            StatusCode::kCorruption);
}

TEST_F(IndexTest, ReaderWaitingForItsPipelineSleepsThroughAnotherPipelinesAppends) {
  auto log = OpenLog(Small());
  ASSERT_TRUE(log->Append(For("first", {1})).ok());
  LogReader reader(*log, log->Begin());
  reader.SetPipelines({1});
  ASSERT_TRUE(reader.Next().ok());
  ASSERT_EQ(reader.Next().status().code(), StatusCode::kEndOfStream);
  std::atomic<bool> woke{false};
  const Position at = reader.position();
  std::thread waiter([&] {
    log->WaitForAppend(at, std::chrono::seconds(30), reader.pipelines());
    woke = true;
  });
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(log->Append(For("other", {2})).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(woke.load());
  ASSERT_TRUE(log->Append(For("second", {1})).ok());
  waiter.join();
  EXPECT_TRUE(woke.load());
  auto b = reader.Next();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->payload, "second");
}

// What a reader of some pipelines has yet to read, counted by the log.
// Log::RecordsAfter, called again while it is still counting (at most
// four closed segments a call).
uint64_t RecordsAfter(const Log& log, const Position& from, const PipelineSet& pipelines) {
  Result<uint64_t> n = log.RecordsAfter(from, pipelines);
  for (size_t calls = 1; !n.ok() && n.status().code() == StatusCode::kUnavailable; ++calls) {
    if (calls > log.Segments().size() / 4 + 1) break;
    n = log.RecordsAfter(from, pipelines);
  }
  EXPECT_TRUE(n.ok()) << n.status().ToString();
  return n.ok() ? *n : UINT64_MAX;
}

// Checks RecordsAfter for readers of pipeline 1, of 2 and of both at every
// batch boundary of the log: what is left to read of their batches there.
void ExpectRecordsLeftEverywhere(Log& log) {
  std::vector<std::pair<Position, BatchHeader>> batches;
  LogReader all(log, log.Begin());
  for (auto b = all.Next(); b.ok(); b = all.Next()) batches.emplace_back(b->next, b->header);
  ASSERT_EQ(all.position(), log.End());
  for (const PipelineSet& pipelines : {PipelineSet{1}, PipelineSet{2}, PipelineSet{2, 1}}) {
    uint64_t left = 0;
    for (const auto& [next, header] : batches) {
      if (header.pipelines.Intersects(pipelines)) left += header.item_count;
    }
    EXPECT_EQ(RecordsAfter(log, log.Begin(), pipelines), left);
    for (const auto& [next, header] : batches) {
      if (header.pipelines.Intersects(pipelines)) left -= header.item_count;
      ASSERT_EQ(RecordsAfter(log, next, pipelines), left)
          << "after the batch at " << header.base_offset << " in segment " << next.segment;
    }
    EXPECT_EQ(left, 0u);
  }
}

class RecordsAfterTest : public IndexTest {
 protected:
  // A busy pipeline 2 and a quiet pipeline 1 (sometimes two of its batches
  // back to back, sometimes a batch of both), in segments of 256 KiB; the
  // last batch is pipeline 1's. Returns pipeline 1's frames as (segment,
  // byte range).
  std::vector<std::pair<uint64_t, FrameExtent>> Fill(Log& log, int busy_batches) {
    std::vector<std::pair<uint64_t, FrameExtent>> quiet;
    auto append = [&](AppendRequest r) {
      const uint64_t size = FrameBytes(r);
      const bool mine = r.pipelines.Contains(1);
      ASSERT_TRUE(log.Append(std::move(r)).ok());
      const Position end = log.End();
      if (mine) quiet.emplace_back(end.segment, FrameExtent{end.byte_offset - size, size});
    };
    for (int i = 0; i < busy_batches; ++i) {
      AppendRequest busy = For(std::string(8 << 10, 'B'), {2});
      busy.item_count = 100 + i % 7;
      append(std::move(busy));
      if (i % 10 != 0) continue;
      for (int k = 0; k < (i % 20 == 0 ? 2 : 1); ++k) {
        AppendRequest mine =
            For("quiet-" + std::to_string(i), i % 30 == 0 ? PipelineSet{1, 2} : PipelineSet{1});
        mine.item_count = 1 + (i + k) % 4;
        append(std::move(mine));
      }
    }
    AppendRequest last = For("quiet-last", {1});
    last.item_count = 3;
    append(std::move(last));
    return quiet;
  }
};

// An exporter's lag in records is its own pipelines' records: a reader of a
// quiet pipeline beside a busy one is behind by its own unread records only,
// wherever it stands (inside a run of its batches, between the busy
// pipeline's, at a segment's end), across segment rolls and as the active
// segment grows, with a batch of both pipelines counted once for a reader of
// both, and after a restart, from the closed segments' index files.
TEST_F(RecordsAfterTest, ReaderOfAQuietPipelineIsBehindByItsOwnUnreadRecordsOnly) {
  {
    auto log = OpenLog(Small());
    Fill(*log, 200);
    ASSERT_GT(log->Segments().size(), 4u);
    ExpectRecordsLeftEverywhere(*log);
    // More, counted on from where the last count stopped.
    Fill(*log, 150);
    ExpectRecordsLeftEverywhere(*log);
    EXPECT_EQ(RecordsAfter(*log, log->End(), {1}), 0u);
    ASSERT_TRUE(log->Close().ok());
  }
  auto log = OpenLog(Small());
  ExpectRecordsLeftEverywhere(*log);
}

// Counts kept between calls stay exact when the calls come while the
// active segment grows and rolls under them.
TEST_F(RecordsAfterTest, CountsTakenWhileSegmentsRollStayExact) {
  auto log = OpenLog(Small());
  std::atomic<bool> done{false};
  std::thread counter([&] {
    while (!done) {
      for (const PipelineSet& p : {PipelineSet{1}, PipelineSet{2}, PipelineSet{1, 2}}) {
        EXPECT_TRUE(log->RecordsAfter(log->Begin(), p).ok());
        EXPECT_TRUE(log->RecordsAfter(log->End(), p).ok());
      }
    }
  });
  Fill(*log, 300);
  done = true;
  counter.join();
  ExpectRecordsLeftEverywhere(*log);
}

// A reader far behind after a restart: the count of the closed segments is
// spread over calls, each counting at most four of them afresh, and the
// answer, once whole, is exact.
TEST_F(RecordsAfterTest, ACountOverManyClosedSegmentsIsSpreadOverCalls) {
  {
    auto log = OpenLog(Small());
    Fill(*log, 400);
    ASSERT_TRUE(log->Close().ok());
  }
  auto log = OpenLog(Small());
  const size_t closed = log->Segments().size() - 1;
  ASSERT_GE(closed, 10u);
  size_t calls = 1;
  Result<uint64_t> n = log->RecordsAfter(log->Begin(), {1});
  for (; !n.ok() && calls <= closed; ++calls) {
    ASSERT_EQ(n.status().code(), StatusCode::kUnavailable) << n.status().ToString();
    n = log->RecordsAfter(log->Begin(), {1});
  }
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  // The reader's own segment is counted by every call; the others four a call.
  EXPECT_EQ(calls, (closed - 1 + 3) / 4);
  ExpectRecordsLeftEverywhere(*log);
}

TEST_F(RecordsAfterTest, CountingAReadersRecordsReadsNoneOfAnotherPipelinesBytes) {
  CountingFileSystem fs;
  auto log = OpenLog(Small(), fs);
  std::vector<std::pair<uint64_t, FrameExtent>> mine = Fill(*log, 300);
  ASSERT_GT(log->Segments().size(), 6u);
  auto expect_only_mine = [&] {
    std::lock_guard<std::mutex> lock(fs.mu);
    for (const auto& r : fs.segment_reads) {
      bool inside = false;
      for (const auto& [segment, frame] : mine) {
        inside = inside || (r.path == SegmentFilePath(dir_.path(), segment) &&
                            r.offset >= frame.offset && r.offset + r.length <= frame.end());
      }
      EXPECT_TRUE(inside) << r.path << " bytes " << r.offset << "+" << r.length;
    }
    // At most a frame head per frame of its own.
    EXPECT_LE(fs.segment_reads.size(), 2 * mine.size());
    fs.segment_reads.clear();
  };
  fs.record_reads = true;
  EXPECT_GT(RecordsAfter(*log, log->Begin(), {1}), 0u);
  expect_only_mine();
  fs.record_reads = false;
  ASSERT_TRUE(log->Close().ok());
  log = OpenLog(Small(), fs);  // recovery reads the last segment
  fs.record_reads = true;
  EXPECT_GT(RecordsAfter(*log, log->Begin(), {1}), 0u);
  expect_only_mine();
}

// A version 1 frame, as sluice wrote before frames listed their pipelines:
// type 1, the one pipeline id in the header.
std::string EncodeV1Frame(uint64_t base_offset, uint32_t pipeline, std::string_view payload) {
  BatchHeader h;
  h.base_offset = base_offset;
  h.item_count = 1;
  h.pipelines = {pipeline};
  std::string frame;
  EncodeFrame(h, "", payload, &frame);
  // Drop the id list and turn the count into the id, then re-checksum.
  std::string v1 = frame.substr(0, kFrameHeaderSize) + frame.substr(kFrameHeaderSize + 4);
  uint32_t length = static_cast<uint32_t>(v1.size() - 8);
  std::memcpy(v1.data() + 4, &length, 4);
  v1[8] = static_cast<char>(FrameType::kBatchV1);
  std::memcpy(v1.data() + 9 + kHdrPipelines, &pipeline, 4);
  uint32_t crc = Crc32c(v1.data() + 4, kFrameHeaderSize - 4);
  std::memcpy(v1.data(), &crc, 4);
  return v1;
}

TEST_F(IndexTest, Version1LogIsReadAndWrittenOnInANewSegment) {
  auto& fs = io::FileSystem::Posix();
  ASSERT_TRUE(fs.CreateDirs(SegmentDirectory(dir_.path())).ok());
  std::string header = EncodeSegmentHeader(0, 1);
  header[8] = 1;  // version 1
  std::string seg = header + EncodeV1Frame(0, 1, "old-1") + EncodeV1Frame(1, 2, "old-other") +
                    EncodeV1Frame(2, 1, "old-2");
  {
    std::ofstream f(SegmentFilePath(dir_.path(), 0), std::ios::binary);
    f << seg;
  }
  auto log = OpenLog(Small());
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->Append(For("new", {1})).ok());
  EXPECT_EQ(ReadAll(*log, log->Begin(), PipelineSet{1}),
            (std::vector<std::string>{"old-1", "old-2", "new"}));
  EXPECT_EQ(ReadAll(*log, log->Begin(), PipelineSet{2}), std::vector<std::string>{"old-other"});
  // The old segment is left as it was; the new batch went into a new one.
  EXPECT_EQ(log->Segments(), (std::vector<uint64_t>{0, 3}));
  EXPECT_EQ(*fs.FileSize(SegmentFilePath(dir_.path(), 0)), seg.size());
}

TEST_F(IndexTest, LogOfANewerFormatIsRefusedSayingWhatToDo) {
  auto& fs = io::FileSystem::Posix();
  ASSERT_TRUE(fs.CreateDirs(SegmentDirectory(dir_.path())).ok());
  std::string header = EncodeSegmentHeader(0, 1);
  header[8] = static_cast<char>(kFormatVersion + 1);
  {
    std::ofstream f(SegmentFilePath(dir_.path(), 0), std::ios::binary);
    f << header;
  }
  telemetry::Registry registry;
  auto log = Log::Open(Small(), fs, Clock::Real(), registry);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(log.status().message().find("newer sluice"), std::string::npos);
}

}  // namespace
}  // namespace sluice::log
