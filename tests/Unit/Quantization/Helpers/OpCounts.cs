using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Tests.Quantization.Helpers;

/// <summary>Op-type histogram of a model, If/Loop/Scan bodies included, keyed by bare op type.</summary>
internal static class OpCounts
{
    public static Dictionary<string, int> Of(OnnxModel model)
    {
        var counts = new Dictionary<string, int>();
        void Walk(GraphProto graph)
        {
            foreach (var n in graph.Node)
            {
                counts[n.OpType] = counts.GetValueOrDefault(n.OpType) + 1;
                foreach (var a in n.Attribute)
                {
                    if (a.G != null) Walk(a.G);
                    foreach (var sg in a.Graphs) Walk(sg);
                }
            }
        }
        Walk(model.Proto.Graph);
        return counts;
    }
}
