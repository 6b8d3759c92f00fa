using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>MinMax through ReduceMin/ReduceMax/Size inside the graph equals MinMax over fetched tensors.</summary>
public class InGraphReductionTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reduced_and_fetched_min_max_agree(bool movingAverage)
    {
        var model = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        var selection = new CalibrationTensorSelector().Select(model);
        var settings = new CalibrationSettings { Method = CalibrationMethod.MinMax, MovingAverage = movingAverage };
        var reduced = new MinMaxCalibrator(settings);
        var fetched = new MinMaxCalibrator(settings);
        using var a = new CalibrationSession(model, selection, reduceInGraph: true);
        using var b = new CalibrationSession(model, selection, reduceInGraph: false);
        Assert.True(a.ReducesInGraph);
        Assert.False(b.ReducesInGraph);
        Assert.Equal(b.Tensors, a.Tensors);
        foreach (var chunk in NpyReader.ReadRows(TestData.Require(TestData.FashionCalib), 40))
        {
            var inputs = new Dictionary<string, NamedTensor> { ["input"] = chunk.WithName("input") };
            a.Run(inputs, reduced);
            b.Run(inputs, fetched);
        }
        var ra = reduced.ComputeRanges();
        var rb = fetched.ComputeRanges();
        Assert.Equal(rb.Select(r => r.Tensor), ra.Select(r => r.Tensor));
        for (int i = 0; i < ra.Count; i++)
        {
            Assert.Equal((rb[i].Min, rb[i].Max, rb[i].ElementCount, rb[i].BatchCount), (ra[i].Min, ra[i].Max, ra[i].ElementCount, ra[i].BatchCount));
            Assert.Equal((rb[i].RangeMin, rb[i].RangeMax), (ra[i].RangeMin, ra[i].RangeMax));
        }
        Assert.DoesNotContain(a.AugmentedModel.Proto.Graph.Output, o => o.Name == selection.Tensors[1]);
        // The ReLU6 (Clip) outputs and the Flatten output take their extremes from their inputs': no reduction.
        var graph = a.AugmentedModel.Proto.Graph;
        var derivable = model.Graph.Nodes.Where(n => n.OpType is "Clip" or "Flatten").Select(n => n.Output[0]).ToList();
        Assert.Equal(12, derivable.Count);
        Assert.All(derivable, t => Assert.Contains(t, a.Tensors));
        Assert.All(derivable, t => Assert.DoesNotContain(graph.Node, n => n.OpType == "ReduceMin" && n.Input[0] == t));
        Assert.Equal(a.Tensors.Count - 12 - 1, graph.Node.Count(n => n.OpType == "ReduceMin")); // - 1: the graph input is fed, not reduced
    }

    /// <summary>The recogniser's HardSwish is Add(x, 3) -> Clip(0, 6) -> Mul(x, .) -> Div(., 6): the Add, Clip and
    /// Div outputs follow from x and from the Mul output through constant steps, and must match what a
    /// reduction of their own gives, bit for bit.</summary>
    [Fact]
    [Trait("Category", "TestData")]
    public void Constant_arithmetic_steps_derive_exact_extremes_on_the_ocr_recogniser()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrRec));
        var selection = new CalibrationTensorSelector().Select(model);
        var settings = new CalibrationSettings { Method = CalibrationMethod.MinMax };
        var reduced = new MinMaxCalibrator(settings);
        var fetched = new MinMaxCalibrator(settings);
        using var a = new CalibrationSession(model, selection, reduceInGraph: true);
        using var b = new CalibrationSession(model, selection, reduceInGraph: false);
        var (x, shape) = EvoQuant.Tests.Quantization.Helpers.OcrData.RecInputs(0, 2);
        var inputs = new Dictionary<string, NamedTensor> { [model.Inputs[0].Name] = new NamedTensor(model.Inputs[0].Name, x, shape.Select(d => (long)d).ToArray()) };
        a.Run(inputs, reduced);
        b.Run(inputs, fetched);
        var ra = reduced.ComputeRanges().ToDictionary(r => r.Tensor);
        var rb = fetched.ComputeRanges();
        Assert.Equal(rb.Count, ra.Count);
        foreach (var r in rb)
            Assert.True((r.Min, r.Max, r.ElementCount) == (ra[r.Tensor].Min, ra[r.Tensor].Max, ra[r.Tensor].ElementCount),
                $"{r.Tensor}: fetched [{r.Min:R}, {r.Max:R}] x{r.ElementCount}, reduced [{ra[r.Tensor].Min:R}, {ra[r.Tensor].Max:R}] x{ra[r.Tensor].ElementCount}");
        // Derived through Add, Div and Clip steps, not only moves: far fewer reductions than tensors.
        var graph = a.AugmentedModel.Proto.Graph;
        int reductions = graph.Node.Count(n => n.OpType == "ReduceMin");
        var byOp = model.Graph.Nodes.Where(n => n.Output.Count == 1).ToDictionary(n => n.Output[0], n => n.OpType);
        var skipped = a.Tensors.Where(t => byOp.ContainsKey(t) && !graph.Node.Any(n => n.OpType == "ReduceMin" && n.Input[0] == t)).Select(t => byOp[t]).ToList();
        Assert.Contains("Div", skipped);
        Assert.Contains("Add", skipped);
        Assert.Contains("Clip", skipped);
        Assert.True(reductions < a.Tensors.Count * 3 / 4, $"{reductions} reductions for {a.Tensors.Count} tensors");
    }
}
