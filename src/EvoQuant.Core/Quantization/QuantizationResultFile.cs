using EvoQuant.Onnx;

namespace EvoQuant.Quantization;

/// <summary>Writing a quantization result: where it goes, and the one save that makes the result
/// describe its file (path, model as loaded back, sizes).</summary>
public static class QuantizationResultFile
{
    /// <summary>The file to write for <paramref name="requested"/> (a full path): the path itself, or, when it
    /// is an existing folder, &lt;model name&gt;.quant.onnx in it.</summary>
    /// <exception cref="DirectoryNotFoundException">The path ends in a separator (it names a folder) and no such folder exists:
    /// writing there would first create it, and a file named "".</exception>
    public static string OutputPathFor(string requested, OnnxModel source)
    {
        ArgumentNullException.ThrowIfNull(source);
        string full = Path.GetFullPath(requested);
        if (Directory.Exists(full)) return Path.Combine(full, Path.GetFileNameWithoutExtension(source.Name) + ".quant.onnx");
        if (Path.EndsInDirectorySeparator(requested) || Path.EndsInDirectorySeparator(full))
            throw new DirectoryNotFoundException($"The folder '{full}' does not exist.");
        return full;
    }

    /// <summary>Saves the result's model atomically (see <see cref="OnnxModel.Save"/>), never over its source
    /// model, and fills the result in: <see cref="QuantizationResult.Path"/>, <see cref="QuantizationResult.Model"/>
    /// as written to the file (loaded back from it, or the same protobuf when the file holds all of it), and the file sizes.</summary>
    /// <returns>The same result, now describing its file.</returns>
    /// <exception cref="OnnxModelException">The output would replace the source or an existing file without
    /// <paramref name="overwrite"/>, or the model is not valid; nothing is written.</exception>
    /// <exception cref="EvoQuant.IO.OutputNotWritableException">The file system refused the write; nothing is left at the path.</exception>
    /// <param name="externalData">Whether the output keeps its tensors in a side file; Auto: when the source did, or when it is large.</param>
    /// <param name="verifyWithRuntime">Run the written files once in ONNX Runtime before they are committed (for
    /// results quantized with <see cref="QuantizationOptions.VerifyWhenSaved"/>): a model it rejects throws
    /// <see cref="QuantizationException"/> (or <see cref="OnnxModelException"/> when the source itself cannot be
    /// loaded) and nothing is written; after such a failure the result's model is no longer usable when it was
    /// to be written with external data (a one-file model is read back from the rejected file). The
    /// quantized weights in memory are let go before the check's session maps the written ones.</param>
    /// <param name="progress">Receives the "Verifying with ONNX Runtime" stage.</param>
    public static QuantizationResult Save(this QuantizationResult result, string path, bool overwrite = false, ExternalDataChoice externalData = ExternalDataChoice.Auto,
        bool verifyWithRuntime = false, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        var source = result.SourceModel;
        if (verifyWithRuntime && source == null) throw new ArgumentException("Verifying a result needs its source model (QuantizationResult.SourceModel).", nameof(verifyWithRuntime));
        var warnings = new List<string>();
        Action<string, bool>? check = !verifyWithRuntime ? null : (temporary, external) =>
        {
            // The weights are on disk now: the result holds the written graph instead of the weights in
            // memory, which go back before ONNX Runtime maps the written ones (a one-file output is read
            // back once the check's session is gone).
            if (external) result.Model = OnnxModel.Load(temporary);
            LargeTensorReads.ReturnToSystem();
            WeightReadProgress.Stage(progress, "Verifying with ONNX Runtime");
            try { ModelQuantizer.VerifyFile(source!, temporary, warnings, prepackWeights: result.Mode == QuantMode.WeightOnly); }
            catch when (!external)
            {
                // Rejected: the one file written holds the whole model, which is read back before it goes, so that
                // the result stays usable.
                result.Model = result.Model.With(OnnxModel.Load(temporary).Proto);
                throw;
            }
        };
        var written = result.Model.Save(path, new ModelSaveOptions
        {
            Overwrite = overwrite,
            ProtectedPaths = source?.Path != null ? new[] { source.Path } : Array.Empty<string>(),
            ExternalData = externalData,
            Source = source,
        }, check);
        result.Path = written[0];
        // Unchecked, a one-file output is the model in memory, as written; a checked one let its tensors go.
        result.Model = verifyWithRuntime ? OnnxModel.Load(written[0]) : result.Model.AsWritten(written);
        if (warnings.Count > 0) result.Warnings = result.Warnings.Concat(warnings).ToList();
        if (source != null) result.FileSizeBefore = source.SizeOnDisk; // external data counted on both sides
        result.FileSizeAfter = written.Sum(p => new FileInfo(p).Length);
        return result;
    }
}
