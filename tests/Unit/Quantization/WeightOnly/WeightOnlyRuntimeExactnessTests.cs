using EvoQuant.Onnx;
using EvoQuant.Numerics;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.WeightOnly;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

namespace EvoQuant.Tests.Quantization.WeightOnly;

/// <summary>Our packing is what ONNX Runtime reads: the output ONNX Runtime computes for the quantized model
/// equals, within float rounding, the product with our own <see cref="BlockQuantizedMatrix.Dequantize"/> weights,
/// for both forms, 4 and 8 bits, blocks of 16/32/128, symmetric and asymmetric, K not a multiple of the block.</summary>
public sealed class WeightOnlyRuntimeExactnessTests
{
    private const int K = 200, N = 24, M = 5;

    public static TheoryData<WeightOnlyForm, int, int, bool> Cases()
    {
        var d = new TheoryData<WeightOnlyForm, int, int, bool>();
        foreach (var form in new[] { WeightOnlyForm.MatMulNBits, WeightOnlyForm.DequantizeLinear })
            foreach (int bits in new[] { 4, 8 })
                foreach (int block in new[] { 16, 32, 128 })
                    foreach (bool sym in new[] { true, false })
                        d.Add(form, bits, block, sym);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatMulRunsAsOurDequantizedWeights(WeightOnlyForm form, int bits, int block, bool symmetric)
    {
        // Weights with an offset so asymmetric blocks have zero points away from the middle.
        var w = Random(K * N, 11).Select((v, i) => v * 0.3f + (i % 7 == 0 ? 0.2f : 0f)).ToArray();
        var g = new GraphProto { Name = "mm" };
        g.Input.Add(Float("x", -1, K));
        g.Output.Add(Float("y", -1, N));
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { K, N }, w));
        g.Node.Add(Node("MatMul", new[] { "x", "w" }, new[] { "y" }, "fc"));
        var options = QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Bits = bits, BlockSize = block, Symmetric = symmetric, Form = form });

        var result = ModelQuantizer.Quantize(Model(g), options);

        var expectedOp = form == WeightOnlyForm.MatMulNBits ? "MatMulNBits" : "DequantizeLinear";
        Assert.Contains(result.Model.Proto.Graph.Node, n => n.OpType == expectedOp);
        Assert.DoesNotContain(result.Model.Proto.Graph.Initializer, t => t.Name == "w");
        var spec = new BlockQuantizationSpec(bits, block, symmetric);
        var deq = RoundToNearestMethod.Instance.Quantize(w, K, N, spec, null).Dequantize();
        var x = Random(M * K, 5);
        var expected = MatMul(x, deq, M, K, N);
        // ONNX Runtime fuses a block-wise DequantizeLinear + MatMul into MatMulNBits with int8 activations
        // (session.qdq_matmulnbits_accuracy_level, 4 by default): the packing is checked unfused.
        AssertClose(expected, Run(result.Model, x, K, optimize: form == WeightOnlyForm.MatMulNBits));
        if (form == WeightOnlyForm.DequantizeLinear)
        {
            // Fused as ONNX Runtime runs it by default: close to the same product, to int8 activation error.
            var fused = Run(result.Model, x, K);
            Assert.True(ErrorMetrics.Sqnr(expected, fused) > 25, $"fused SQNR {ErrorMetrics.Sqnr(expected, fused):F1} dB");
        }
        var layer = Assert.Single(result.WeightOnlyLayers);
        Assert.Equal((K, N, bits, block), (layer.Rows, layer.Columns, layer.Bits, layer.BlockSize));
        Assert.True(layer.Sqnr > (bits == 4 ? 15 : 35), $"SQNR {layer.Sqnr:F1} dB");
    }

    [Theory]
    [InlineData(WeightOnlyForm.MatMulNBits, 4, false)]
    [InlineData(WeightOnlyForm.MatMulNBits, 8, true)]
    [InlineData(WeightOnlyForm.DequantizeLinear, 4, true)]
    [InlineData(WeightOnlyForm.DequantizeLinear, 8, false)]
    public void GemmWithTransBAlphaBetaAndBiasRunsAsOurDequantizedWeights(WeightOnlyForm form, int bits, bool symmetric)
    {
        var w = Random(N * K, 21, 0.4f); // [N, K]: transB
        var c = Random(N, 22, 0.5f);
        var g = new GraphProto { Name = "gemm" };
        g.Input.Add(Float("x", M, K));
        g.Output.Add(Float("y", M, N));
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { N, K }, w));
        g.Initializer.Add(TensorData.FromFloats("c", new long[] { N }, c));
        g.Node.Add(Node("Gemm", new[] { "x", "w", "c" }, new[] { "y" }, "fc", Int("transB", 1),
            new AttributeProto { Name = "alpha", Type = AttributeProto.Types.AttributeType.Float, F = 1.5f },
            new AttributeProto { Name = "beta", Type = AttributeProto.Types.AttributeType.Float, F = 0.5f }));
        var options = QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Bits = bits, BlockSize = 32, Symmetric = symmetric, Form = form });

        var result = ModelQuantizer.Quantize(Model(g), options);

        // The weight the method saw: [K, N], times alpha where MatMulNBits (which has no alpha) computes the product.
        var kn = new float[K * N];
        for (int n = 0; n < N; n++) for (int k = 0; k < K; k++) kn[k * N + n] = w[n * K + k] * (form == WeightOnlyForm.MatMulNBits ? 1.5f : 1f);
        var deq = RoundToNearestMethod.Instance.Quantize(kn, K, N, new BlockQuantizationSpec(bits, 32, symmetric), null).Dequantize();
        var x = Random(M * K, 6);
        var expected = MatMul(x, deq, M, K, N);
        for (int i = 0; i < expected.Length; i++)
            expected[i] = (form == WeightOnlyForm.MatMulNBits ? expected[i] : 1.5f * expected[i]) + 0.5f * c[i % N];
        AssertClose(expected, Run(result.Model, x, K, optimize: form == WeightOnlyForm.MatMulNBits));
        if (form == WeightOnlyForm.MatMulNBits)
        {
            var mm = Assert.Single(result.Model.Proto.Graph.Node);
            Assert.Equal(6, mm.Input.Count); // A, B, scales, zero points (or none), g_idx (none), bias
        }
    }

    [Theory]
    [InlineData(WeightOnlyForm.MatMulNBits, 4, true)]
    [InlineData(WeightOnlyForm.MatMulNBits, 4, false)]
    [InlineData(WeightOnlyForm.MatMulNBits, 8, true)]
    [InlineData(WeightOnlyForm.MatMulNBits, 8, false)]
    [InlineData(WeightOnlyForm.DequantizeLinear, 4, false)]
    [InlineData(WeightOnlyForm.DequantizeLinear, 8, true)]
    public void EmbeddingGatherReturnsOurDequantizedRows(WeightOnlyForm form, int bits, bool symmetric)
    {
        const int V = 50, D = 48; // 48 = one full block of 32 and a partial one
        var table = Random(V * D, 31, 0.7f).Select((v, i) => v + (i % 5 == 0 ? 0.3f : 0f)).ToArray();
        var g = new GraphProto { Name = "emb" };
        var ids = new ValueInfoProto { Name = "ids", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Int64, Shape = new TensorShapeProto() } } };
        ids.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "n" });
        g.Input.Add(ids);
        g.Output.Add(Float("e", -1, D));
        g.Initializer.Add(TensorData.FromFloats("table", new long[] { V, D }, table));
        g.Node.Add(Node("Gather", new[] { "table", "ids" }, new[] { "e" }, "embed"));
        var options = QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Bits = bits, BlockSize = 32, Symmetric = symmetric, Form = form });

        var result = ModelQuantizer.Quantize(Model(g), options);

        Assert.Contains(result.Model.Proto.Graph.Node, n => n.OpType == (form == WeightOnlyForm.MatMulNBits ? "GatherBlockQuantized" : "DequantizeLinear"));
        // The method sees the table as its transpose: K = D along a row, N = V rows.
        var kn = new float[V * D];
        for (int v = 0; v < V; v++) for (int d = 0; d < D; d++) kn[d * V + v] = table[v * D + d];
        var m = RoundToNearestMethod.Instance.Quantize(kn, D, V, new BlockQuantizationSpec(bits, 32, symmetric), null);
        long[] index = { 3, 0, 49, 17, 3 };
        using var s = new InferenceSession(result.Model.ToBytes());
        using var r = s.Run(new[] { NamedOnnxValue.CreateFromTensor("ids", new DenseTensor<long>(index, new[] { index.Length })) });
        var got = ((DenseTensor<float>)r.First().Value).Buffer.ToArray();
        var expected = index.SelectMany(v => Enumerable.Range(0, D).Select(d => m.ValueAt(d, (int)v))).ToArray();
        AssertClose(expected, got);
    }

    internal static float[] MatMul(float[] x, float[] w, int m, int k, int n)
    {
        var y = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int t = 0; t < k; t++) s += (double)x[i * k + t] * w[t * n + j];
                y[i * n + j] = (float)s;
            }
        return y;
    }

    internal static float[] Run(OnnxModel model, float[] x, int k, bool optimize = true)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = optimize ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var s = new InferenceSession(model.ToBytes(), options);
        using var r = s.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { x.Length / k, k })) });
        return ((DenseTensor<float>)r.First().Value).Buffer.ToArray();
    }

    /// <summary>Equal up to float32 summation order: a wrong nibble, block or zero point moves an output by a whole step.</summary>
    internal static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = expected.Max(MathF.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-5f * scale + 1e-6f, $"element {i}: expected {expected[i]}, ONNX Runtime {actual[i]}");
    }
}
