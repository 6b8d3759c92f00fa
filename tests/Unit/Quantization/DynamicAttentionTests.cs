using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

namespace EvoQuant.Tests.Quantization;

/// <summary>ONNX Runtime's fused com.microsoft Attention, quantized dynamically as QAttention: the packed
/// Q/K/V weight int8 (per column where asked or where it pays), the input quantized at run time, bias and
/// mask passed through, and ONNX Runtime's result close to the float node's.</summary>
public sealed class DynamicAttentionTests
{
    private const int Batch = 2, Seq = 8, Hidden = 32, Heads = 4;

    private static OnnxModel SelfAttention(params AttributeProto[] extra)
    {
        var g = new GraphProto { Name = "attention" };
        g.Input.Add(Float("x", Batch, Seq, Hidden));
        var mask = new ValueInfoProto { Name = "mask", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Int32, Shape = new TensorShapeProto() } } };
        mask.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = Batch });
        mask.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = Seq });
        g.Input.Add(mask);
        g.Output.Add(Float("y", Batch, Seq, Hidden));
        // One column in eight is four times wider: per-column scales pay, as in real transformers.
        var w = Random(Hidden * 3 * Hidden, 11, 0.15f);
        for (int i = 0; i < w.Length; i++) if (i % (3 * Hidden) % 8 == 3) w[i] *= 4;
        g.Initializer.Add(TensorData.FromFloats("qkv", new long[] { Hidden, 3 * Hidden }, w));
        g.Initializer.Add(TensorData.FromFloats("qkv_bias", new long[] { 3 * Hidden }, Random(3 * Hidden, 12, 0.1f)));
        var n = Node("Attention", new[] { "x", "qkv", "qkv_bias", "mask" }, new[] { "y" }, "attention", Int("num_heads", Heads));
        n.Attribute.AddRange(extra);
        n.Domain = "com.microsoft";
        g.Node.Add(n);
        var model = Model(g);
        model.Proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        return model;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AttentionBecomesQAttention_CloseToFloat(bool perChannel)
    {
        var model = SelfAttention();
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic() with { PerChannel = perChannel });
        var g = result.Model.Proto.Graph;

        Assert.Equal(new[] { "DynamicQuantizeLinear", "QAttention" }, g.Node.Select(n => n.OpType));
        var qa = g.Node[1];
        Assert.Equal("com.microsoft", qa.Domain);
        Assert.Equal(Heads, qa.Attribute.Single(a => a.Name == "num_heads").I);
        var init = g.Initializer.ToDictionary(t => t.Name);
        Assert.Equal(ElementTypes.Int8, init[qa.Input[1]].DataType);
        Assert.Equal(new long[] { Hidden, 3 * Hidden }, init[qa.Input[1]].Dims.ToArray());
        Assert.Equal(perChannel ? new long[] { 3 * Hidden } : Array.Empty<long>(), init[qa.Input[4]].Dims.ToArray());
        Assert.Equal("qkv_bias", qa.Input[2]);
        Assert.Equal("mask", qa.Input[5]);
        Assert.DoesNotContain("qkv", init.Keys); // the float weight is gone

        var x = Random(Batch * Seq * Hidden, 13);
        double sqnr = ErrorMetrics.Sqnr(Run(model, x), Run(result.Model, x));
        Assert.True(sqnr > 25, $"SQNR {sqnr:F1} dB");
    }

    [Fact]
    public void PerColumnScalesWhereTheyPay_BeatOneScaleForTheWeight()
    {
        var model = SelfAttention();
        var x = Random(Batch * Seq * Hidden, 13);
        var reference = Run(model, x);
        var byValues = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic() with { PerChannelWhereItPays = true });
        var perTensor = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic());
        var qa = byValues.Model.Proto.Graph.Node.Single(n => n.OpType == "QAttention");
        Assert.Equal(new long[] { 3 * Hidden }, byValues.Model.Proto.Graph.Initializer.Single(t => t.Name == qa.Input[4]).Dims.ToArray());
        double chosen = ErrorMetrics.Sqnr(reference, Run(byValues.Model, x)), single = ErrorMetrics.Sqnr(reference, Run(perTensor.Model, x));
        Assert.True(chosen > single + 3, $"per column {chosen:F1} dB, per tensor {single:F1} dB");
    }

    [Fact]
    public void AttentionWithAnAttributeQAttentionLacks_StaysFloat_WithTheReason()
    {
        var model = SelfAttention(Int("do_rotary", 1));
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic());
        Assert.Equal(new[] { "Attention" }, result.Model.Proto.Graph.Node.Select(n => n.OpType));
        Assert.Contains(result.Skipped, s => s.OpType == "Attention" && s.Reason.Contains("do_rotary", StringComparison.Ordinal));
    }

    private static float[] Run(OnnxModel model, float[] x)
    {
        using var s = new InferenceSession(model.ToBytes());
        var mask = Enumerable.Range(0, Batch * Seq).Select(i => i % Seq < Seq - 1 - i / Seq ? 1 : 0).ToArray();
        using var r = s.Run(new[]
        {
            NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { Batch, Seq, Hidden })),
            NamedOnnxValue.CreateFromTensor("mask", new DenseTensor<int>(mask, new[] { Batch, Seq })),
        });
        return ((DenseTensor<float>)r.First().Value).Buffer.ToArray();
    }
}
