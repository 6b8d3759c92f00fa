using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization;

/// <summary>The feed-forward blocks of a transformer stack: a MatMul that widens a constant weight
/// [N, K] (the up projection), an activation, and a MatMul that narrows it back, weight [K, N] (the
/// down projection). Found by shapes and data flow alone, whatever the activation (Gelu, its Erf form,
/// ONNX Runtime's BiasGelu, Relu).</summary>
public static class FeedForwardProjections
{
    /// <summary>How many nodes back from a down projection's input the up projection may be: the bias Add
    /// and the decomposed GELU (Div, Erf, Add, Mul, Mul) fit.</summary>
    private const int MaxActivationNodes = 8;

    /// <summary>The down projections of the graph, in execution order.</summary>
    public static IReadOnlyList<NodeProto> DownProjections(GraphView graph) =>
        graph.Nodes.Where(n => IsDownProjection(n, graph)).ToList();

    /// <summary>The first feed-forward block's down projection of a stack of at least two blocks, or null.
    /// Its input keeps the widest outliers of the model (BERT's first GELU): one 8-bit scale per tensor
    /// (calibrated, or computed at run time over every token of the batch) leaves the other values a few
    /// codes. Measured (docs/benchmarks.md, 1 MatMul of 37 kept float): dynamic all-MiniLM-L6-v2, worst
    /// sentence's cosine 0.961 -> 0.980 at the same speed; static arctic-embed-xs, mean 0.9876 -> 0.9915 and
    /// worst 0.980 -> 0.987. Keeping the later ones float too gains little and costs speed.</summary>
    public static NodeProto? FirstOfStack(GraphView graph)
    {
        var down = DownProjections(graph);
        return down.Count >= 2 ? down[0] : null;
    }

    private static bool IsDownProjection(NodeProto node, GraphView graph)
    {
        if (!IsPlainMatMul(node) || WeightDims(node, graph) is not [long k, long n] || k <= n) return false;
        return UpProjectionBefore(node.Input[0], graph, upDims: (n, k));
    }

    /// <summary>Walks back from <paramref name="tensor"/> through the non-constant inputs of at most
    /// <see cref="MaxActivationNodes"/> nodes, looking for a MatMul whose weight is [N, K].</summary>
    private static bool UpProjectionBefore(string tensor, GraphView graph, (long N, long K) upDims)
    {
        var pending = new Queue<string>();
        var seen = new HashSet<NodeProto>();
        pending.Enqueue(tensor);
        while (pending.Count > 0 && seen.Count < MaxActivationNodes)
        {
            if (graph.Producer(pending.Dequeue()) is not { } producer || !seen.Add(producer)) continue;
            if (IsPlainMatMul(producer))
            {
                if (WeightDims(producer, graph) is [long n, long k] && (n, k) == upDims) return true;
                continue; // another MatMul: not this block's activation path
            }
            foreach (var input in producer.Input)
                if (input.Length > 0 && !graph.IsConstant(input)) pending.Enqueue(input);
        }
        return false;
    }

    private static bool IsPlainMatMul(NodeProto node) =>
        node.OpType == "MatMul" && (string.IsNullOrEmpty(node.Domain) || node.Domain == "ai.onnx") && node.Input.Count == 2;

    private static long[]? WeightDims(NodeProto node, GraphView graph) =>
        graph.GetConstant(node.Input[1]) is { Dims.Count: 2 } w ? w.Dims.ToArray() : null;
}
