using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization;

/// <summary>Bookkeeping every rewriter does after editing a graph.</summary>
internal static class GraphEdits
{
    /// <summary>Every name the nodes read, including what their If/Loop/Scan bodies read from this
    /// graph, plus the graph outputs: what must not be removed.</summary>
    public static HashSet<string> ReadNames(IEnumerable<NodeProto> nodes, IEnumerable<ValueInfoProto> outputs)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in nodes)
        {
            foreach (var i in n.Input) used.Add(i);
            foreach (var r in GraphView.OuterScopeReads(n)) used.Add(r);
        }
        foreach (var o in outputs) used.Add(o.Name);
        return used;
    }

    /// <summary>Puts the graph's nodes in topological order (new nodes are appended where convenient).</summary>
    public static void SortTopologically(GraphProto g)
    {
        var sorted = new GraphView(g).Nodes.ToList();
        g.Node.Clear();
        g.Node.AddRange(sorted);
    }

    /// <summary>Every name the graph uses (nodes, tensors, initializers, value infos), subgraphs
    /// included: what a new name must not collide with.</summary>
    public static IEnumerable<string> AllNames(GraphProto g)
    {
        foreach (var n in g.Node)
        {
            yield return n.Name;
            foreach (var i in n.Input) yield return i;
            foreach (var o in n.Output) yield return o;
            foreach (var a in n.Attribute)
            {
                if (a.G != null) foreach (var s in AllNames(a.G)) yield return s;
                foreach (var sg in a.Graphs) foreach (var s in AllNames(sg)) yield return s;
            }
        }
        foreach (var t in g.Initializer) yield return t.Name;
        foreach (var v in g.Input.Concat(g.Output).Concat(g.ValueInfo)) yield return v.Name;
    }
}
