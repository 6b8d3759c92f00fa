using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Google.Protobuf;
using Xunit;

namespace EvoQuant.Tests.Quantization;

/// <summary>The shape of the QDQ graph produced for fashion-cnn (per channel).</summary>
public sealed class QdqStructureTests
{
    private static readonly Lazy<QuantizationResult> s_result = new(() =>
        ModelQuantizer.Quantize(FashionData.Model, QuantizationOptions.Static(FashionData.Ranges) with { PerChannel = true }));

    private static GraphView Graph => s_result.Value.Model.Graph;

    [Fact]
    public void EveryConvInputComesFromADequantizeLinear()
    {
        var convs = Graph.Nodes.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal(16, convs.Count);
        foreach (var conv in convs)
        {
            foreach (var input in conv.Input)
                Assert.Equal("DequantizeLinear", Graph.Producer(input)?.OpType);
            // The activation input's DQ reads a QuantizeLinear.
            var dq = Graph.Producer(conv.Input[0])!;
            Assert.Equal("QuantizeLinear", Graph.Producer(dq.Input[0])?.OpType);
            // The output goes into a QuantizeLinear (its only consumer).
            Assert.All(Graph.Consumers(conv.Output[0]), c => Assert.Equal("QuantizeLinear", c.OpType));
        }
    }

    [Fact]
    public void ConvWeightsAreInt8WithPerAxisScalesOnAxis0()
    {
        foreach (var conv in Graph.Nodes.Where(n => n.OpType == "Conv"))
        {
            var dq = Graph.Producer(conv.Input[1])!;
            var w = Graph.GetConstant(dq.Input[0])!;
            Assert.Equal(ElementTypes.Int8, w.DataType);
            Assert.Equal(0, dq.Attribute.Single(a => a.Name == "axis").I);
            var scale = Graph.GetConstant(dq.Input[1])!;
            Assert.Equal(new[] { w.Dims[0] }, scale.Dims.ToArray());
            // Symmetric int8 weights: zero point 0, left to DequantizeLinear's default.
            Assert.Equal(2, dq.Input.Count);
        }
    }

    [Fact]
    public void BiasesAreInt32WithScaleInputTimesWeight()
    {
        foreach (var conv in Graph.Nodes.Where(n => n.OpType == "Conv"))
        {
            var dqBias = Graph.Producer(conv.Input[2])!;
            Assert.Equal(ElementTypes.Int32, Graph.GetConstant(dqBias.Input[0])!.DataType);
            var biasScale = TensorData.ToFloatArray(Graph.GetConstant(dqBias.Input[1])!);
            float inScale = TensorData.ToFloatArray(Graph.GetConstant(Graph.Producer(conv.Input[0])!.Input[1])!)[0];
            var wScale = TensorData.ToFloatArray(Graph.GetConstant(Graph.Producer(conv.Input[1])!.Input[1])!);
            Assert.Equal(wScale.Length, biasScale.Length);
            Assert.Equal(2, dqBias.Input.Count); // zero point 0 by default
            for (int c = 0; c < wScale.Length; c++) Assert.Equal(inScale * wScale[c], biasScale[c]);
        }
    }

    [Fact]
    public void ClipsAreFoldedAndNoFloatWeightsRemain()
    {
        Assert.DoesNotContain(Graph.Nodes, n => n.OpType == "Clip");
        Assert.Equal(11, s_result.Value.QuantizedByOpType["Clip"]);
        Assert.DoesNotContain(Graph.Nodes, n => n.OpType == "Constant");
        // Every remaining float constant is a scale.
        Assert.All(Graph.Constants.Values.Where(t => t.DataType == ElementTypes.Float), t => Assert.EndsWith(TensorNames.ScaleSuffix, t.Name));
    }

    [Fact]
    public void GraphInterfaceIsUnchanged()
    {
        var before = FashionData.Model;
        var after = s_result.Value.Model;
        Assert.Equal(before.Inputs.Select(i => i.ToString()), after.Inputs.Select(i => i.ToString()));
        Assert.Equal(before.Outputs.Select(i => i.ToString()), after.Outputs.Select(i => i.ToString()));
        // The output is written by the last DequantizeLinear.
        Assert.Equal("DequantizeLinear", after.Graph.Producer("logits")?.OpType);
        Assert.Equal(QuantizationFormat.QDQ, after.QuantizationFormat);
    }

    [Fact]
    public void InputModelIsNotModified()
    {
        var model = OnnxModel.Load(Support.TestData.FashionCnn);
        var before = model.Proto.ToByteArray();
        ModelQuantizer.Quantize(model, QuantizationOptions.Static(FashionData.Ranges) with { PerChannel = true });
        Assert.Equal(before, model.Proto.ToByteArray());
    }

    [Fact]
    public void DedicatedQdqPairGivesEachConsumerItsOwnPair()
    {
        var result = ModelQuantizer.Quantize(FashionData.Model, QuantizationOptions.Static(FashionData.Ranges) with { DedicatedQdqPair = true });
        var g = result.Model.Graph;
        Assert.All(g.Nodes.Where(n => n.OpType == "DequantizeLinear"), dq => Assert.True(g.Consumers(dq.Output[0]).Count <= 1, $"{dq.Name} feeds several nodes"));
        // Residual inputs are read by two nodes, so some tensor has two Q nodes.
        Assert.Contains(g.Nodes.Where(n => n.OpType == "QuantizeLinear").GroupBy(q => q.Input[0]), grp => grp.Count() == 2);
    }
}
