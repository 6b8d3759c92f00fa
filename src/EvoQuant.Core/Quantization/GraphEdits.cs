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

    /// <summary>Drops the <paramref name="replaced"/> constants (initializers, Constant nodes, and their
    /// graph-input and value-info entries) that nothing among <paramref name="nodes"/> or the graph outputs
    /// reads any more.</summary>
    public static void RemoveReplacedConstants(GraphProto g, IEnumerable<NodeProto> nodes, ISet<string> replaced)
    {
        var used = ReadNames(nodes, g.Output);
        bool Drop(string name) => replaced.Contains(name) && !used.Contains(name);

        var keepInit = g.Initializer.Where(t => !Drop(t.Name)).ToList();
        g.Initializer.Clear();
        g.Initializer.AddRange(keepInit);
        var keepNodes = g.Node.Where(n => !(n.OpType == "Constant" && string.IsNullOrEmpty(n.Domain) && n.Output.Count == 1 && Drop(n.Output[0]))).ToList();
        g.Node.Clear();
        g.Node.AddRange(keepNodes);
        // Old IR versions list initializers as graph inputs too.
        var keepInputs = g.Input.Where(i => !Drop(i.Name)).ToList();
        g.Input.Clear();
        g.Input.AddRange(keepInputs);
        var keepVi = g.ValueInfo.Where(v => !Drop(v.Name)).ToList();
        g.ValueInfo.Clear();
        g.ValueInfo.AddRange(keepVi);
    }

    /// <summary>Drops initializers and Constant nodes nothing reads any more (replaced float weights,
    /// the bounds of folded Clips), whatever they were. Initializers listed as graph inputs stay. The QOperator rewrite,
    /// which rebuilds the node list.</summary>
    public static void RemoveUnreadConstants(GraphProto graph)
    {
        var used = GraphEdits.ReadNames(graph.Node, graph.Output);
        var inputs = graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var keepInit = graph.Initializer.Where(t => used.Contains(t.Name) || inputs.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(keepInit);
        var keepNodes = graph.Node.Where(n => !(n.OpType == "Constant" && string.IsNullOrEmpty(n.Domain) && n.Output.All(o => !used.Contains(o)))).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(keepNodes);
        var keepVi = graph.ValueInfo.Where(v => used.Contains(v.Name)).ToList();
        graph.ValueInfo.Clear();
        graph.ValueInfo.AddRange(keepVi);
    }

    /// <summary>Drops replaced float weights (initializers and Constant nodes, in any graph) that no node
    /// of the model reads any more, with the shape ops (Unsqueeze, Slice ...) that only fed them; names are unique
    /// model-wide, so one global use set is exact. Dynamic quantization, which rewrites If/Loop/Scan bodies too.</summary>
    public static void RemoveReplacedModelWide(GraphProto main, ISet<string> replaced)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        var graphs = new List<GraphProto>();
        void Collect()
        {
            graphs.AddRange(GraphView.WithSubgraphs(main));
            foreach (var g in graphs)
            {
                foreach (var n in g.Node) foreach (var i in n.Input) used.Add(i);
                foreach (var o in g.Output) used.Add(o.Name);
            }
        }
        Collect();
        // A removed Constant may have fed only another removed node (Unsqueeze of an LSTM weight): repeat.
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (var g in graphs)
            {
                bool Drop(string name) => !used.Contains(name) && replaced.Contains(name);
                int before = g.Node.Count + g.Initializer.Count;
                var keepNodes = new List<NodeProto>(g.Node.Count);
                foreach (var n in g.Node)
                {
                    if (n.Output.Count == 1 && Drop(n.Output[0]) && IsPure(n))
                        foreach (var i in n.Input) replaced.Add(i);
                    else keepNodes.Add(n);
                }
                g.Node.Clear();
                g.Node.AddRange(keepNodes);
                var inputs = g.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
                var keepInit = g.Initializer.Where(t => !Drop(t.Name) || inputs.Contains(t.Name)).ToList();
                g.Initializer.Clear();
                g.Initializer.AddRange(keepInit);
                if (g.Node.Count + g.Initializer.Count != before) changed = true;
            }
            // Recount: a dropped node's inputs may now be unused.
            used.Clear();
            graphs.Clear();
            Collect();
        }
    }

    private static bool IsPure(NodeProto n) =>
        string.IsNullOrEmpty(n.Domain) && n.OpType is "Constant" or "Unsqueeze" or "Squeeze" or "Reshape" or "Identity" or "Slice" or "Concat" or "Transpose";

    /// <summary>Puts the graph's nodes in topological order (new nodes are appended where convenient).</summary>
    public static void SortTopologically(GraphProto g)
    {
        var sorted = new GraphView(g).Nodes.ToList();
        g.Node.Clear();
        g.Node.AddRange(sorted);
    }

    /// <summary>Every name the graph uses (nodes, tensors, initializers, value infos), subgraphs
    /// included: what a new name must not collide with.</summary>
    public static IEnumerable<string> AllNames(GraphProto main)
    {
        foreach (var g in GraphView.WithSubgraphs(main))
        {
            foreach (var n in g.Node)
            {
                yield return n.Name;
                foreach (var i in n.Input) yield return i;
                foreach (var o in n.Output) yield return o;
            }
            foreach (var t in g.Initializer) yield return t.Name;
            foreach (var v in g.Input.Concat(g.Output).Concat(g.ValueInfo)) yield return v.Name;
        }
    }
}
