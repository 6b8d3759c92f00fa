using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using Xunit;

namespace EvoQuant.Tests.Onnx;

public class GraphViewOrderTests
{
    private static NodeProto Node(string op, string name, string[] inputs, string[] outputs)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        return n;
    }

    /// <summary>An If node listed before the producer of a value its branch reads from the enclosing
    /// graph must be ordered after that producer: the branch runs inside the If.</summary>
    [Fact]
    public void SubgraphReadsOfOuterValuesOrderTheirProducersFirst()
    {
        var thenBranch = new GraphProto { Name = "then" };
        thenBranch.Node.Add(Node("Identity", "inner", new[] { "late" }, new[] { "t_out" }));
        thenBranch.Output.Add(new ValueInfoProto { Name = "t_out" });
        var elseBranch = new GraphProto { Name = "else" };
        elseBranch.Node.Add(Node("Identity", "inner2", new[] { "x" }, new[] { "e_out" }));
        elseBranch.Output.Add(new ValueInfoProto { Name = "e_out" });

        var iff = Node("If", "if", new[] { "cond" }, new[] { "y" });
        iff.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = thenBranch });
        iff.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = elseBranch });
        var g = new GraphProto { Name = "g" };
        g.Input.Add(new ValueInfoProto { Name = "cond" });
        g.Input.Add(new ValueInfoProto { Name = "x" });
        g.Node.Add(iff);                                                   // listed first...
        g.Node.Add(Node("Relu", "producer", new[] { "x" }, new[] { "late" })); // ...but reads this node's output
        g.Output.Add(new ValueInfoProto { Name = "y" });

        var view = new GraphView(g);
        Assert.Equal(new[] { "producer", "if" }, view.Nodes.Select(n => n.Name));
        Assert.Equal(new[] { "late", "x" }, GraphView.OuterScopeReads(iff).OrderBy(s => s));
    }

    /// <summary>The order of the earlier quadratic sort (passes over the file order), kept as the reference
    /// the linear one must reproduce: outputs of the rewrites are sorted with it and must stay byte-identical.</summary>
    private static List<string> ReferencePassOrder(GraphProto g)
    {
        var available = new HashSet<string>(g.Input.Select(i => i.Name)) { "" };
        var produced = g.Node.SelectMany(n => n.Output).ToHashSet();
        var done = new bool[g.Node.Count];
        var order = new List<string>();
        while (order.Count < g.Node.Count)
        {
            for (int k = 0; k < g.Node.Count; k++)
            {
                if (done[k] || !g.Node[k].Input.All(i => available.Contains(i) || !produced.Contains(i))) continue;
                done[k] = true;
                order.Add(g.Node[k].Name);
                foreach (var o in g.Node[k].Output) available.Add(o);
            }
        }
        return order;
    }

    [Theory]
    [InlineData(1, 300)]
    [InlineData(2, 2000)]
    [InlineData(3, 2000)]
    public void ShuffledGraphsGetTheOrderOfTheEarlierSort(int seed, int count)
    {
        var random = new Random(seed);
        var g = new GraphProto { Name = "g" };
        g.Input.Add(new ValueInfoProto { Name = "x" });
        var nodes = new List<NodeProto>();
        for (int k = 0; k < count; k++)
        {
            // Each node reads one or two earlier tensors: a random DAG with long and short edges.
            var inputs = Enumerable.Range(0, random.Next(1, 3)).Select(_ => k == 0 ? "x" : $"t{random.Next(Math.Max(0, k - 20), k)}").Distinct().ToArray();
            nodes.Add(Node("Add", $"n{k}", inputs, new[] { $"t{k}" }));
        }
        // Mostly in order, with runs moved: what rewrites that append nodes at the end produce.
        var shuffled = nodes.OrderBy(n => int.Parse(n.Name[1..]) + (random.Next(10) == 0 ? random.Next(-50, 400) : 0)).ToList();
        g.Node.AddRange(shuffled);

        var sorted = new GraphView(g).Nodes.Select(n => n.Name).ToList();

        Assert.Equal(ReferencePassOrder(g), sorted);
        var position = sorted.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i);
        foreach (var n in nodes)
            foreach (var input in n.Input.Where(i => i != "x"))
                Assert.True(position[$"n{input[1..]}"] < position[n.Name]);
    }

    [Fact]
    public void AReversedChainIsSortedAndACycleIsNamed()
    {
        // 20,000 nodes listed last-first: the earlier sort made one pass per node (4e8 steps).
        var g = new GraphProto { Name = "g" };
        g.Input.Add(new ValueInfoProto { Name = "t0" });
        for (int k = 20_000; k >= 1; k--) g.Node.Add(Node("Relu", $"n{k}", new[] { $"t{k - 1}" }, new[] { $"t{k}" }));
        Assert.Equal(Enumerable.Range(1, 20_000).Select(k => $"n{k}"), new GraphView(g).Nodes.Select(n => n.Name));

        g.Node.Add(Node("Add", "loop", new[] { "t5", "u" }, new[] { "u" }));
        var error = Assert.Throws<InvalidOperationException>(() => new GraphView(g).Nodes);
        Assert.Contains("'loop' (Add)", error.Message);
    }
}
