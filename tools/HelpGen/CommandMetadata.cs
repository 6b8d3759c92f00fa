using System.Management.Automation;

namespace EvoQuant.HelpGen;

/// <summary>What the engine knows about a cmdlet: the facts of its help that must not be written by hand.</summary>
public sealed record CmdletMeta(string Name, string Verb, string Noun, IReadOnlyList<ParameterSetMetadata> ParameterSets,
    IReadOnlyList<ParameterMetadataInfo> Parameters, IReadOnlyList<string> OutputTypes, string DefaultParameterSet)
{
    /// <summary>Common parameters are described by about_CommonParameters, not by each cmdlet;
    /// WhatIf and Confirm are documented per cmdlet (as platyPS does).</summary>
    public static readonly HashSet<string> CommonParameters = new(StringComparer.OrdinalIgnoreCase)
    {
        "Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "ErrorVariable",
        "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable",
    };

    public static CmdletMeta From(CmdletInfo cmdlet)
    {
        var sets = new List<ParameterSetMetadata>();
        var byName = new Dictionary<string, ParameterMetadataInfo>(StringComparer.OrdinalIgnoreCase);
        var order = new List<string>();
        foreach (var set in cmdlet.ParameterSets)
        {
            var ps = new List<SetParameter>();
            foreach (var p in set.Parameters)
            {
                if (CommonParameters.Contains(p.Name)) continue;
                var sp = new SetParameter(p.Name, p.IsMandatory, p.Position, p.ValueFromPipeline, p.ValueFromPipelineByPropertyName);
                ps.Add(sp);
                if (!byName.TryGetValue(p.Name, out var info))
                {
                    var validateSet = p.Attributes.OfType<ValidateSetAttribute>().SelectMany(v => v.ValidValues).ToList();
                    if (validateSet.Count == 0 && p.ParameterType.IsEnum) validateSet = Enum.GetNames(p.ParameterType).ToList();
                    info = new ParameterMetadataInfo(p.Name, p.ParameterType, p.Aliases.ToList(), validateSet, new List<SetParameter>(),
                        p.Attributes.OfType<SupportsWildcardsAttribute>().Any());
                    byName[p.Name] = info;
                    order.Add(p.Name);
                }
                info.InSets.Add(sp);
            }
            // Mandatory first, then by position, then as declared: the order Get-Help users expect.
            ps = ps.OrderBy(p => p.Position < 0 ? int.MaxValue : p.Position).ThenBy(p => p.Mandatory ? 0 : 1).ToList();
            sets.Add(new ParameterSetMetadata(set.Name, set.IsDefault, ps));
        }
        var outputs = cmdlet.OutputType.Select(t => t.Type?.FullName ?? t.Name).Distinct().ToList();
        string defaultSet = cmdlet.DefaultParameterSet ?? sets.FirstOrDefault()?.Name ?? "";
        return new CmdletMeta(cmdlet.Name, cmdlet.Verb, cmdlet.Noun, sets, order.Select(n => byName[n]).ToList(), outputs, defaultSet);
    }
}

public sealed record ParameterSetMetadata(string Name, bool IsDefault, IReadOnlyList<SetParameter> Parameters);

public sealed record SetParameter(string Name, bool Mandatory, int Position, bool ByValue, bool ByPropertyName);

public sealed record ParameterMetadataInfo(string Name, Type Type, IReadOnlyList<string> Aliases, IReadOnlyList<string> ValidValues,
    List<SetParameter> InSets, bool SupportsWildcards)
{
    public bool IsSwitch => Type == typeof(SwitchParameter);
    public bool MandatoryEverywhere => InSets.Count > 0 && InSets.All(s => s.Mandatory);
    public int Position => InSets.Select(s => s.Position).Where(p => p >= 0).DefaultIfEmpty(int.MinValue).First();
    public bool ByValue => InSets.Any(s => s.ByValue);
    public bool ByPropertyName => InSets.Any(s => s.ByPropertyName);

    /// <summary>The text Get-Help prints for "Accept pipeline input?".</summary>
    public string PipelineInput => (ByValue, ByPropertyName) switch
    {
        (true, true) => "True (ByPropertyName, ByValue)",
        (true, false) => "True (ByValue)",
        (false, true) => "True (ByPropertyName)",
        _ => "False",
    };

    /// <summary>The short type name shown in syntax lines: String[], OnnxModel, Int32 ...</summary>
    public static string ShortName(Type t)
    {
        if (t.IsArray) return ShortName(t.GetElementType()!) + "[]";
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Nullable<>)) return ShortName(t.GetGenericArguments()[0]);
        return t.Name;
    }
}
