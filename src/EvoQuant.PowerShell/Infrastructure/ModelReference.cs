using System.Management.Automation;
using EvoQuant.Calibration;
using EvoQuant.Onnx;
using EvoQuant.Quantization;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>A model as a user names it to a cmdlet: a model object, the path of a file, a quantization
/// result (its model, and the float model it came from) or a calibration table that carries its model.
/// Made while binding (<see cref="ModelTransformationAttribute"/>) without reading any file; the cmdlet
/// calls <see cref="Load"/>, so a file that does not load becomes the cmdlet's own error record.</summary>
public sealed class ModelReference
{
    private OnnxModel? _model;

    private ModelReference(object original, OnnxModel? model, string? path, QuantizationResult? result, CalibrationTable? table)
    {
        Original = original;
        _model = model;
        FilePath = path;
        Result = result;
        Table = table;
    }

    /// <summary>What was given, for error records.</summary>
    public object Original { get; }

    /// <summary>The full path of the model file when the model was named by a path or a FileInfo.</summary>
    public string? FilePath { get; }

    /// <summary>The quantization result the model came from, if any: its <see cref="QuantizationResult.SourceModel"/> is the float model.</summary>
    public QuantizationResult? Result { get; }

    /// <summary>The calibration table the model came from, if any: its ranges go with the model.</summary>
    public CalibrationTable? Table { get; }

    /// <summary>The model's file, loaded or not: what an output must not replace.</summary>
    public string? Path => _model?.Path ?? FilePath;

    /// <summary>The model; a path is loaded on the first call.</summary>
    /// <exception cref="OnnxModelException">The file does not hold a loadable model (missing, corrupt, external data outside its folder...).</exception>
    /// <exception cref="ArgumentException">A calibration table loaded from a file: it does not carry its model.</exception>
    public OnnxModel Load() => _model ??= FilePath != null ? OnnxModel.Load(FilePath)
        : throw new ArgumentException("This calibration table was loaded from a file and does not carry its model; give the model, and the table as -Calibration.");

    public override string ToString() => FilePath ?? _model?.Name ?? Original.ToString() ?? "";

    /// <summary>The reference for a value; <paramref name="resolvePath"/> turns a PowerShell path into a file-system path.</summary>
    /// <exception cref="ArgumentException">The value is nothing a model can come from (or a table loaded from a file, which has no model).</exception>
    public static ModelReference From(object? input, Func<string, string> resolvePath)
    {
        object? value = PipelineValues.Unwrap(input);
        switch (value)
        {
            case null:
                throw new ArgumentException("No model was given.");
            case ModelReference reference:
                return reference;
            case OnnxModel model:
                return new ModelReference(model, model, null, null, null);
            case QuantizationResult result:
                return new ModelReference(result, result.Model, null, result, null);
            case CalibrationTable table:
                return new ModelReference(table, table.Model, null, null, table);
            case FileInfo file:
                return new ModelReference(file, null, file.FullName, null, null);
            case string path when !string.IsNullOrWhiteSpace(path):
                return new ModelReference(path, null, Resolve(path, resolvePath), null, null);
            case string:
                throw new ArgumentException("The model path is empty.");
            default:
                // Objects that carry a model (a result wrapped by Select-Object, a custom object) expose it as .Model.
                if (PipelineValues.Unwrap((input as PSObject ?? PSObject.AsPSObject(value)).Properties["Model"]?.Value) is OnnxModel carried)
                    return new ModelReference(value, carried, null, null, null);
                throw new ArgumentException($"Cannot use a {value.GetType().Name} as a model; give a path, a FileInfo, a model from Get-OnnxGraph or a result of Invoke-Quantization.");
        }
    }

    // A path PowerShell cannot resolve (an unknown drive) is kept as typed: loading it then says ModelNotFound.
    private static string Resolve(string path, Func<string, string> resolvePath)
    {
        try { return resolvePath(path); }
        catch (Exception e) when (e is ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or NotSupportedException or PSArgumentException)
        {
            return path;
        }
    }
}
