using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Tests.Evaluation;

/// <summary>Small helpers to write ONNX graphs by hand in tests (opset 13, batch axis "N").</summary>
internal static class HandBuilt
{
    internal static OnnxModel Model(GraphProto g)
    {
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return OnnxModel.Load(Google.Protobuf.MessageExtensions.ToByteArray(m));
    }

    internal static ValueInfoProto Input(string name, int type) => new() { Name = name, Type = TensorType(type, new long?[] { null, 2, 5, 5 }) };

    internal static TypeProto TensorType(int elem, long?[]? dims = null)
    {
        var t = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elem } };
        if (dims != null)
        {
            t.TensorType.Shape = new TensorShapeProto();
            foreach (var d in dims)
                t.TensorType.Shape.Dim.Add(d is long v ? new TensorShapeProto.Types.Dimension { DimValue = v } : new TensorShapeProto.Types.Dimension { DimParam = "N" });
        }
        return t;
    }

    internal static NodeProto Node(string op, string name, string[] inputs, string output, (string Name, long[] Ints)? attr = null)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        if (attr is { } a)
        {
            var ap = new AttributeProto { Name = a.Name, Type = AttributeProto.Types.AttributeType.Ints };
            ap.Ints.AddRange(a.Ints);
            n.Attribute.Add(ap);
        }
        return n;
    }
}
