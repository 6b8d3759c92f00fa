using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>MatMul by a constant 2-D weight [K, N]: X W = X (W with rows C zeroed) + X[.., C] W[C, :]. The first product is the one quantized; the second, float, is [.., |C|] x [|C|, N].</summary>
public sealed class MatMulRowSplitter : IChannelSplitter
{
    public static MatMulRowSplitter Instance { get; } = new();

    public bool CanSplit(NodeProto node, int channels, ChannelScaling scaling) =>
        node.Input.Count == 2 && node.Input[0] != node.Input[1] && scaling.Dims(node.Input[1]) is { Length: 2 } d && d[0] == channels
        && scaling.Floats(node.Input[1]) != null;

    public IReadOnlyList<NodeProto> Split(NodeProto node, int[] channels, string outliers, ChannelScaling scaling, ICollection<NodeProto> floatNodes)
    {
        var dims = scaling.Dims(node.Input[1])!;
        var w = scaling.Floats(node.Input[1])!;
        int n = (int)dims[1];
        var kept = (float[])w.Clone();
        var rows = new float[channels.Length * n];
        for (int i = 0; i < channels.Length; i++)
        {
            w.AsSpan(channels[i] * n, n).CopyTo(rows.AsSpan(i * n, n));
            kept.AsSpan(channels[i] * n, n).Clear();
        }
        string weightRows = scaling.AddConstant(TensorData.FromFloats(scaling.TakeName(node.Input[1] + "_outlier_rows"), new long[] { channels.Length, n }, rows));
        scaling.ReplaceInput(node, 1, dims, kept, "_inlier_rows");

        string output = node.Output[0];
        string inlierProduct = scaling.TakeName(output + "_inliers");
        string outlierProduct = scaling.TakeName(output + "_outliers");
        node.Output[0] = inlierProduct;
        var matmul = new NodeProto { OpType = "MatMul", Name = scaling.TakeName(NameOf(node) + "_Outliers") };
        matmul.Input.Add(outliers);
        matmul.Input.Add(weightRows);
        matmul.Output.Add(outlierProduct);
        var add = new NodeProto { OpType = "Add", Name = scaling.TakeName(NameOf(node) + "_AddOutliers") };
        add.Input.Add(inlierProduct);
        add.Input.Add(outlierProduct);
        add.Output.Add(output);
        floatNodes.Add(matmul);
        floatNodes.Add(add);
        return new[] { matmul, add };
    }

    private static string NameOf(NodeProto node) => string.IsNullOrEmpty(node.Name) ? node.Output[0] : node.Name;
}
