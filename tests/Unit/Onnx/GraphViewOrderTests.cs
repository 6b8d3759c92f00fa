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
}
