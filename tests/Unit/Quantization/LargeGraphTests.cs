using EvoQuant.Calibration;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Quantization;

/// <summary>Issue 16's pathological sizes, large enough that a quadratic pass would take minutes and
/// small enough to take seconds when every pass is linear. Results only: the timings are in the bench
/// (<c>big-graphs</c>) and docs/benchmarks.md. The ONNX Runtime check is off: its own session creation
/// is not ours to test.</summary>
public sealed class LargeGraphTests
{
    private static readonly QuantizationOptions Dynamic = QuantizationOptions.Dynamic() with { VerifyWithRuntime = false };

    [Fact]
    public void Dynamic_ManyUnusedInitializers_QuantizesTheMatMulAndKeepsTheUnusedOnes()
    {
        const int n = 20_000;
        var result = ModelQuantizer.Quantize(LargeGraphs.UnusedInitializers(n), Dynamic);

        Assert.Equal(new[] { "mm" }, result.QuantizedNodes.Select(q => q.Name));
        var names = result.Model.Proto.Graph.Initializer.Select(t => t.Name).ToHashSet();
        // Only what quantization replaced is dropped: initializers the model already did not read stay.
        Assert.DoesNotContain("w", names);
        Assert.All(Enumerable.Range(0, n), i => Assert.Contains($"unused_{i}", names));
    }

    [Fact]
    public void Calibration_ManyUnusedInitializers_CalibratesTheActivationsOnly()
    {
        var table = Calibrator.Run(LargeGraphs.UnusedInitializers(20_000), new object[] { LargeGraphs.Input() }, new CalibrationOptions());

        Assert.Equal(new[] { "x", "y" }, table.Ranges.Select(r => r.Tensor).Order());
        Assert.Equal(-0.25f, table["x"]!.Min);
        Assert.Equal(1f, table["x"]!.Max);
        Assert.Contains(table.Skipped, s => s.Tensor == "w");
    }

    [Fact]
    public void Dynamic_LongReluChain_QuantizesTheMatMulAndKeepsEveryRelu()
    {
        const int n = 20_000;
        var result = ModelQuantizer.Quantize(LargeGraphs.ReluChain(n), Dynamic);

        Assert.Equal(new[] { "mm" }, result.QuantizedNodes.Select(q => q.Name));
        Assert.Equal(n, result.Skipped.Count(s => s.OpType == "Relu"));
        var nodes = result.Model.Proto.Graph.Node;
        Assert.Equal(n, nodes.Count(x => x.OpType == "Relu"));
        Assert.DoesNotContain(nodes, x => x.OpType == "MatMul");
        Assert.Equal("y", nodes[^1].Output[0]);
    }

    [Fact]
    public void Calibration_LongReluChain_EveryReluHasTheFirstOnesRange()
    {
        const int n = 20_000;
        var table = Calibrator.Run(LargeGraphs.ReluChain(n), new object[] { LargeGraphs.Input() }, new CalibrationOptions());

        Assert.Equal(n + 2, table.Count); // x, the MatMul's output, every Relu's
        var mm = table["r0"]!;
        var first = table["r1"]!;
        Assert.True(mm.Min < 0, "the MatMul gives a negative value, so the Relu clamps something");
        Assert.Equal(0f, first.Min);
        Assert.Equal(mm.Max, first.Max);
        for (int i = 2; i < n; i++)
        {
            var r = table[$"r{i}"]!;
            Assert.Equal((first.Min, first.Max), (r.Min, r.Max));
        }
        Assert.Equal((first.Min, first.Max), (table["y"]!.Min, table["y"]!.Max));
    }

    [Fact]
    public void Dynamic_ManyTinyMatMuls_QuantizesEveryOne()
    {
        const int n = 5_000;
        var result = ModelQuantizer.Quantize(LargeGraphs.MatMulChain(n), Dynamic);

        Assert.Equal(n, result.QuantizedNodes.Count);
        Assert.Empty(result.Skipped);
        var g = result.Model.Proto.Graph;
        Assert.Equal(n, g.Node.Count(x => x.OpType == "MatMulInteger"));
        Assert.Equal(n, g.Node.Count(x => x.OpType == "DynamicQuantizeLinear"));
        Assert.DoesNotContain(g.Node, x => x.OpType == "MatMul");
        // Each float weight is replaced by its int8 data, scale and zero point, and is gone.
        Assert.Equal(3 * n, g.Initializer.Count);
        var initializers = g.Initializer.Select(t => t.Name).ToHashSet();
        Assert.DoesNotContain(Enumerable.Range(0, n), i => initializers.Contains($"w_{i}"));
        var names = g.Node.Select(x => x.Name).Where(s => s.Length > 0).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    [Fact]
    public void Dynamic_ManyUnusedInitializers_PassesTheRuntimeCheck()
    {
        // ONNX Runtime is given the model without the initializers nothing reads (it drops them one by one).
        var result = ModelQuantizer.Quantize(LargeGraphs.UnusedInitializers(20_000), QuantizationOptions.Dynamic());

        Assert.Single(result.QuantizedNodes);
        Assert.DoesNotContain(result.Warnings, w => w.Contains("not run"));
        Assert.Contains("unused_19999", result.Model.Proto.Graph.Initializer.Select(t => t.Name));
    }

    [Fact]
    public void ForRuntime_LeavesOutOnlyInitializersNothingReads()
    {
        var model = LargeGraphs.UnusedInitializers(3);
        var g = model.Proto.Graph;
        g.Input.Add(new EvoQuant.Onnx.Proto.ValueInfoProto { Name = "unused_1" }); // an overridable input stays
        var run = model.ForRuntime();

        Assert.Equal(new[] { "w", "unused_1" }, run.Proto.Graph.Initializer.Select(t => t.Name));
        Assert.Equal(4, g.Initializer.Count); // the model itself is not touched
        var used = LargeGraphs.ReluChain(3);
        Assert.Same(used, used.ForRuntime());
    }

    [Fact]
    public void UniqueNames_ManyTakesOfOneName_NumberOnAndSkipTakenNames()
    {
        var names = new UniqueNames(new[] { "a", "a_2" });
        var taken = Enumerable.Range(0, 20_000).Select(_ => names.Take("a")).ToList();

        Assert.Equal("a_1", taken[0]);
        Assert.Equal("a_3", taken[1]); // a_2 was already used
        Assert.Equal("a_20001", taken[^1]);
        Assert.Equal(taken.Count, taken.Distinct().Count());
        Assert.Equal("b", names.Take("b"));
        Assert.Equal("a_1_1", names.Take("a_1"));
    }
}
