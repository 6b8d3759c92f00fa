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
}
