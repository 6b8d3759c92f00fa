using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Quantization;

/// <summary>Outputs whose range an op defines (Softmax, Sigmoid, HardSigmoid: [0, 1]) are quantized with
/// that range whatever calibration says: a calibrated [0, 0.05] would clip every confident output.
/// On PaddleOCR's recogniser, which has all three.</summary>
[Trait("Category", "TestData")]
public sealed class BoundedOutputTests
{
    [Fact]
    public void Probability_outputs_keep_0_to_1_even_when_the_table_says_less()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrRec));
        var (calib, shape) = OcrData.RecInputs(0, 4);
        var table = Calibrator.Run(model, new object[] { new NamedTensor(model.Inputs[0].Name, calib, shape.Select(d => (long)d).ToArray()) },
            new CalibrationOptions { Method = CalibrationMethod.MinMax, BatchSize = 4 });
        var bounded = model.Graph.Nodes.Where(n => n.OpType is "Softmax" or "Sigmoid" or "HardSigmoid").Select(n => n.Output[0]).ToHashSet();
        Assert.Contains(model.Graph.Nodes, n => n.OpType == "Softmax");
        Assert.Contains(model.Graph.Nodes, n => n.OpType == "HardSigmoid");
        // What Entropy with 2048 bins did to such outputs: a tiny calibrated range.
        var squeezed = new CalibrationTable(table.Settings, table.Ranges.Select(r => bounded.Contains(r.Tensor) ? r with { RangeMin = 0, RangeMax = 0.05f } : r));

        // Named in OpTypes: by default QDQ leaves these ops float where their input is (after the recogniser's
        // float MatMul products, AfterQuantizedInputs); named, they are quantized whatever their producer.
        var q = ModelQuantizer.Quantize(model, QuantizationOptions.Static(squeezed) with
        {
            PerChannel = true, UseContribOps = true, OpTypes = new[] { "Conv", "Softmax", "Sigmoid", "HardSigmoid" },
        }).Model;
        var expected = QuantParamsCalculator.FromRange(0, 1, QuantType.Int8, symmetric: false);
        int checkedOutputs = 0;
        foreach (string t in bounded)
        {
            var quantize = q.Graph.Consumers(t).SingleOrDefault(c => c.OpType == "QuantizeLinear");
            if (quantize == null) continue; // not quantized (e.g. excluded by the op's own rule)
            float scale = TensorData.ToFloatArray(q.Graph.GetConstant(quantize.Input[1])!)[0];
            Assert.Equal(expected.Scale, scale);
            checkedOutputs++;
        }
        Assert.True(checkedOutputs >= 10, $"only {checkedOutputs} bounded outputs were quantized");
        // And an unbounded activation keeps its calibrated range (the rule is not applied everywhere).
        var conv = model.Graph.Nodes.First(n => n.OpType == "Conv").Output[0];
        var convQ = q.Graph.Consumers(conv).Single(c => c.OpType == "QuantizeLinear");
        var r = table[conv]!;
        Assert.Equal(QuantParamsCalculator.FromRange(Math.Min(0, r.RangeMin), Math.Max(0, r.RangeMax), QuantType.Int8, false).Scale,
            TensorData.ToFloatArray(q.Graph.GetConstant(convQ.Input[1])!)[0]);
    }

    [Fact]
    public void Tanh_output_keeps_minus_1_to_1_and_runs()
    {
        // x -> Tanh -> y: the table claims y only reaches [-0.1, 0.1].
        var g = new EvoQuant.Onnx.Proto.GraphProto { Name = "g" };
        g.Input.Add(TinyModels.Float("x", 1, 64));
        g.Output.Add(TinyModels.Float("y", 1, 64));
        g.Node.Add(TinyModels.Node("Tanh", new[] { "x" }, new[] { "y" }, "tanh"));
        var model = TinyModels.Model(g);
        var ranges = new Dictionary<string, ActivationRange> { ["x"] = new(-4, 4), ["y"] = new(-0.1f, 0.1f) };
        var q = ModelQuantizer.Quantize(model, QuantizationOptions.Static(ranges)).Model;
        // A graph output keeps its name: Tanh -> y_f -> QuantizeLinear -> DequantizeLinear -> y.
        var dq = q.Graph.Producer("y")!;
        Assert.Equal("DequantizeLinear", dq.OpType);
        Assert.Equal(QuantParamsCalculator.FromRange(-1, 1, QuantType.Int8, symmetric: false).Scale,
            TensorData.ToFloatArray(q.Graph.GetConstant(dq.Input[1])!)[0]);
        // Run it: saturated inputs come out near ±1, not clipped at ±0.1.
        var x = Enumerable.Range(0, 64).Select(i => (i - 32) / 8f).ToArray();
        using var s = new Microsoft.ML.OnnxRuntime.InferenceSession(q.ToBytes());
        using var r = s.Run(new[] { Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("x", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, new[] { 1, 64 })) });
        var y = r.First().AsTensor<float>().ToArray();
        for (int i = 0; i < 64; i++) Assert.InRange(y[i], MathF.Tanh(x[i]) - 0.05f, MathF.Tanh(x[i]) + 0.05f);
    }
}
