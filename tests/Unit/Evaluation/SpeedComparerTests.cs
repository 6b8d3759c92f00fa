using EvoQuant.Targets;
using Xunit;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;

namespace EvoQuant.Tests.Evaluation;

/// <summary>SpeedComparer on the Fashion CNN, float against int8. Only the bookkeeping is checked (counts,
/// batch sizes, statistics consistent with each other, speedup = ratio of the medians): the times
/// themselves depend on the machine and its load, so no threshold is asserted on them.</summary>
public class SpeedComparerTests
{
    // Enough pairs to check the counts; the budget far above what 7 pairs take, so the count decides.
    private static readonly SpeedOptions Fixed = new() { BatchSize = 16, WarmupRuns = 1, MinPairs = 7, MaxPairs = 7, TimeBudget = TimeSpan.FromMinutes(5) };

    [Fact]
    public void TimesBothModelsAtOneRowAndAtTheBatchWithTheRequestedPairs()
    {
        var (items, _) = FashionWorkload.TestSubset(40);
        var speed = SpeedComparer.Measure(FashionWorkload.Model, FashionWorkload.Int8.Model, items, Fixed);

        Assert.Equal(1, speed.Latency.BatchSize);
        Assert.Equal(16, speed.Throughput.BatchSize);
        foreach (var m in new[] { speed.Latency, speed.Throughput })
        {
            Assert.Equal(7, m.Pairs);
            Assert.Equal(7, m.Reference.Count);
            Assert.Equal(7, m.Candidate.Count);
            foreach (var t in new[] { m.Reference, m.Candidate })
            {
                Assert.True(t.Median > 0, $"median {t.Median} ms");
                Assert.True(t.Min <= t.Q1 && t.Q1 <= t.Median && t.Median <= t.Q3 && t.Q3 <= t.Max, t.ToString());
            }
            Assert.Equal(m.Reference.Median / m.Candidate.Median, m.Speedup, 12);
            Assert.Equal(m.BatchSize * 1000.0 / m.Reference.Median, m.ReferenceRowsPerSecond, 9);
            Assert.Equal(m.BatchSize * 1000.0 / m.Candidate.Median, m.CandidateRowsPerSecond, 9);
        }
        Assert.Equal(speed.Throughput.Speedup, speed.Speedup);
        Assert.Equal(speed.Latency.Speedup, speed.LatencySpeedup);
        Assert.Equal(HostCpu.Current.PhysicalCores, speed.Threads); // the default: one thread per physical core
        Assert.Same(HostCpu.Current, speed.Cpu);
        Assert.Empty(speed.Notes);
        Assert.Matches(@"^\d+\.\d\dx at batch 16, \d+\.\d\dx at batch 1 \(\d+ threads?\)$", speed.ToString());
    }

    [Fact]
    public void TheBudgetStopsASeriesOnceTheMinimumIsDone()
    {
        var (items, _) = FashionWorkload.TestSubset(8);
        var speed = SpeedComparer.Measure(FashionWorkload.Model, FashionWorkload.Int8.Model, items,
            new SpeedOptions { BatchSize = 8, WarmupRuns = 0, MinPairs = 3, MaxPairs = 1000, TimeBudget = TimeSpan.Zero, Threads = 1 });
        Assert.Equal(3, speed.Latency.Pairs);
        Assert.Equal(3, speed.Throughput.Pairs);
        Assert.Equal(1, speed.Threads);
    }

    [Fact]
    public void FewerRowsThanTheBatchTimeTheRowsThereAre()
    {
        var (items, _) = FashionWorkload.TestSubset(5);
        var speed = SpeedComparer.Measure(FashionWorkload.Model, FashionWorkload.Int8.Model, items, Fixed with { BatchSize = 64, MinPairs = 2, MaxPairs = 2 });
        Assert.Equal(5, speed.Throughput.BatchSize);
        Assert.Equal(1, speed.Latency.BatchSize);
        Assert.Contains(speed.Notes, n => n.Contains("5 row(s)", StringComparison.Ordinal));
    }

    [Fact]
    public void AFixedBatchAxisIsTimedAtItsSizeOnce()
    {
        var proto = FashionWorkload.Model.CloneProto();
        var dim = proto.Graph.Input.Single(i => i.Name == "input").Type.TensorType.Shape.Dim[0];
        dim.DimValue = 4;
        var fixedModel = FashionWorkload.Model.With(proto);
        var items = new object[] { FashionWorkload.TestX.SliceRows(0, 4) };
        var speed = SpeedComparer.Measure(fixedModel, fixedModel, items, Fixed with { MinPairs = 2, MaxPairs = 2 });
        Assert.Same(speed.Latency, speed.Throughput);
        Assert.Equal(4, speed.Throughput.BatchSize);
        Assert.Equal(2, speed.Throughput.Pairs);
        Assert.Contains(speed.Notes, n => n.Contains("fixed", StringComparison.Ordinal));
        Assert.Matches(@"^\d+\.\d\dx at batch 4 \(", speed.ToString());
    }

    [Fact]
    public void NoFittingSampleAndBadOptionsAreArgumentErrors()
    {
        var wrong = new object[] { new NamedTensor("input", new float[10], new long[] { 1, 10 }) };
        Assert.Throws<ArgumentException>(() => SpeedComparer.Measure(FashionWorkload.Model, FashionWorkload.Model, wrong, Fixed));
        var (items, _) = FashionWorkload.TestSubset(2);
        Assert.Throws<ArgumentException>(() => SpeedComparer.Measure(FashionWorkload.Model, FashionWorkload.Model, items, new SpeedOptions { MinPairs = 5, MaxPairs = 4 }));
        Assert.Throws<ArgumentException>(() => SpeedComparer.Measure(FashionWorkload.Model, FashionWorkload.Model, items, new SpeedOptions { BatchSize = 0 }));
        Assert.Throws<ArgumentException>(() => AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Model, items,
            new ComparisonOptions { Timing = new SpeedOptions { Threads = -1 } }));
    }

    [Fact]
    public void TheAccuracyReportCarriesTheSpeedOnlyWhenAsked()
    {
        var (items, labels) = FashionWorkload.TestSubset(32);
        var options = new ComparisonOptions { Labels = labels, BatchSize = 16 };
        var without = AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Int8.Model, items, options);
        Assert.Null(without.Speed);

        var with = AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Int8.Model, items, options with { Timing = Fixed with { MinPairs = 3, MaxPairs = 3 } });
        Assert.NotNull(with.Speed);
        Assert.Equal(16, with.Speed!.Throughput.BatchSize);
        Assert.Equal(3, with.Speed.Throughput.Pairs);
        // Timing changes nothing in the accuracy figures.
        Assert.Equal(without.Summary.CandidateAccuracy, with.Summary.CandidateAccuracy);
        Assert.Equal(without.Outputs[0].Sqnr, with.Outputs[0].Sqnr);
    }

    [Fact]
    public void QuartilesInterpolateBetweenSortedTimes()
    {
        var t = TimingStats.From(new[] { 4.0, 1.0, 3.0, 2.0 });
        Assert.Equal(4, t.Count);
        Assert.Equal(2.5, t.Median, 12);
        Assert.Equal(1.75, t.Q1, 12);
        Assert.Equal(3.25, t.Q3, 12);
        Assert.Equal(1.5, t.Iqr, 12);
        Assert.Equal(1.0, t.Min);
        Assert.Equal(4.0, t.Max);
        Assert.Equal(3.0, TimingStats.From(new[] { 5.0, 3.0, 1.0 }).Median);
        Assert.Throws<ArgumentException>(() => TimingStats.From(Array.Empty<double>()));
    }
}

/// <summary>The CPU description the speed figures carry.</summary>
public class HostCpuTests
{
    private const string X86 = """
        processor	: 0
        vendor_id	: GenuineIntel
        model name	: Intel(R) Xeon(R)   Platinum 8380 CPU @ 2.30GHz
        physical id	: 0
        core id		: 0
        flags		: fpu sse4_1 avx avx2 fma avx512f avx512bw avx512vl avx512_vnni
        
        processor	: 1
        model name	: Intel(R) Xeon(R)   Platinum 8380 CPU @ 2.30GHz
        physical id	: 0
        core id		: 0
        flags		: fpu sse4_1 avx avx2 fma avx512f avx512bw avx512vl avx512_vnni
        
        processor	: 2
        physical id	: 0
        core id		: 1
        """;

    [Fact]
    public void ParsesModelInstructionSetsAndCoresFromCpuinfo()
    {
        var cpu = HostCpu.Parse(X86, "X64", 3);
        Assert.Equal("Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz", cpu.Model);
        Assert.Equal(new[] { "SSE4.1", "AVX", "AVX2", "FMA", "AVX-512F", "AVX-512BW", "AVX-512VL", "AVX-512 VNNI" }, cpu.InstructionSets);
        Assert.Equal("/proc/cpuinfo", cpu.InstructionSetSource);
        Assert.Equal(2, cpu.PhysicalCores); // two distinct (physical id, core id) pairs over three processors
        Assert.Equal(3, cpu.LogicalProcessors);
        Assert.Contains("AVX-512 VNNI", cpu.ToString());
        Assert.Equal(new[] { "AVX2", "AVX-512BW", "AVX-512 VNNI" }, cpu.Int8InstructionSets);
    }

    [Fact]
    public void ParsesArmFeaturesAndNamesAnUnknownModelByItsArchitecture()
    {
        var cpu = HostCpu.Parse("processor\t: 0\nFeatures\t: fp asimd asimddp i8mm sve\nCPU implementer\t: 0x41\n", "Arm64", 4);
        Assert.Equal("Arm64 CPU (model unknown)", cpu.Model);
        Assert.Equal(new[] { "NEON", "DotProd", "I8MM", "SVE" }, cpu.InstructionSets);
        Assert.Equal(4, cpu.PhysicalCores); // no core ids: the logical count
    }

    [Fact]
    public void DescribesThisMachine()
    {
        var cpu = HostCpu.Current;
        Assert.False(string.IsNullOrWhiteSpace(cpu.Model));
        Assert.Equal(Environment.ProcessorCount, cpu.LogicalProcessors);
        Assert.InRange(cpu.PhysicalCores, 1, cpu.LogicalProcessors);
        if (OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo"))
        {
            var flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(' ') ?? Array.Empty<string>();
            Assert.Equal(flags.Contains("avx2"), cpu.InstructionSets.Contains("AVX2"));
            Assert.Equal(flags.Contains("avx512_vnni"), cpu.InstructionSets.Contains("AVX-512 VNNI"));
        }
    }
}
