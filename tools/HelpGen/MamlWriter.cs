using System.Xml;

namespace EvoQuant.HelpGen;

/// <summary>Writes MAML (the XML format Get-Help reads from en-US/&lt;assembly&gt;-Help.xml).</summary>
public static class MamlWriter
{
    private const string Msh = "http://msh";
    private const string Maml = "http://schemas.microsoft.com/maml/2004/10";
    private const string Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private const string Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    public static void Write(string path, IEnumerable<(CmdletMeta Meta, CommandHelpSource Help)> commands)
    {
        var settings = new XmlWriterSettings { Indent = true, IndentChars = "  ", Encoding = new System.Text.UTF8Encoding(false) };
        using var w = XmlWriter.Create(path, settings);
        w.WriteStartDocument();
        w.WriteStartElement("helpItems", Msh);
        w.WriteAttributeString("schema", "maml");
        foreach (var (meta, help) in commands) WriteCommand(w, meta, help);
        w.WriteEndElement();
        w.WriteEndDocument();
    }

    private static void WriteCommand(XmlWriter w, CmdletMeta meta, CommandHelpSource help)
    {
        w.WriteStartElement("command", "command", Command);
        w.WriteAttributeString("xmlns", "maml", null, Maml);
        w.WriteAttributeString("xmlns", "command", null, Command);
        w.WriteAttributeString("xmlns", "dev", null, Dev);

        w.WriteStartElement("command", "details", Command);
        w.WriteElementString("command", "name", Command, meta.Name);
        w.WriteElementString("command", "verb", Command, meta.Verb);
        w.WriteElementString("command", "noun", Command, meta.Noun);
        Description(w, help.Synopsis);
        w.WriteEndElement();

        Description(w, help.Description);

        w.WriteStartElement("command", "syntax", Command);
        // The default set first, as Get-Command -Syntax lists it.
        foreach (var set in meta.ParameterSets.OrderBy(s => s.Name == meta.DefaultParameterSet ? 0 : 1))
        {
            w.WriteStartElement("command", "syntaxItem", Command);
            w.WriteElementString("maml", "name", Maml, meta.Name);
            foreach (var sp in set.Parameters)
            {
                var p = meta.Parameters.First(x => x.Name == sp.Name);
                Parameter(w, p, help.Parameters.GetValueOrDefault(p.Name), sp.Mandatory, sp.Position, inSyntax: true);
            }
            w.WriteEndElement();
        }
        w.WriteEndElement();

        w.WriteStartElement("command", "parameters", Command);
        foreach (var p in meta.Parameters)
            Parameter(w, p, help.Parameters.GetValueOrDefault(p.Name), p.MandatoryEverywhere, p.Position, inSyntax: false);
        w.WriteEndElement();

        w.WriteStartElement("command", "inputTypes", Command);
        foreach (var t in help.Inputs)
        {
            w.WriteStartElement("command", "inputType", Command);
            TypeElement(w, t.TypeName);
            Description(w, t.Description);
            w.WriteEndElement();
        }
        w.WriteEndElement();

        w.WriteStartElement("command", "returnValues", Command);
        foreach (var t in help.Outputs)
        {
            w.WriteStartElement("command", "returnValue", Command);
            TypeElement(w, t.TypeName);
            Description(w, t.Description);
            w.WriteEndElement();
        }
        w.WriteEndElement();

        w.WriteStartElement("maml", "alertSet", Maml);
        w.WriteStartElement("maml", "alert", Maml);
        foreach (var n in help.Notes) w.WriteElementString("maml", "para", Maml, n);
        w.WriteEndElement();
        w.WriteEndElement();

        w.WriteStartElement("command", "examples", Command);
        foreach (var e in help.Examples)
        {
            w.WriteStartElement("command", "example", Command);
            w.WriteElementString("maml", "title", Maml, $"-------------------------- {e.Title} --------------------------");
            w.WriteElementString("dev", "code", Dev, e.Code);
            w.WriteStartElement("dev", "remarks", Dev);
            foreach (var r in e.Remarks) w.WriteElementString("maml", "para", Maml, r);
            w.WriteEndElement();
            w.WriteEndElement();
        }
        w.WriteEndElement();

        w.WriteStartElement("command", "relatedLinks", Command);
        foreach (var (text, uri) in help.Links)
        {
            w.WriteStartElement("maml", "navigationLink", Maml);
            w.WriteElementString("maml", "linkText", Maml, text);
            w.WriteElementString("maml", "uri", Maml, uri);
            w.WriteEndElement();
        }
        w.WriteEndElement();

        w.WriteEndElement(); // command:command
    }

    private static void Parameter(XmlWriter w, ParameterMetadataInfo p, ParameterHelp? help, bool required, int position, bool inSyntax)
    {
        w.WriteStartElement("command", "parameter", Command);
        w.WriteAttributeString("required", required ? "true" : "false");
        w.WriteAttributeString("variableLength", p.Type.IsArray ? "true" : "false");
        w.WriteAttributeString("globbing", (help?.AcceptWildcards ?? p.SupportsWildcards) ? "true" : "false");
        w.WriteAttributeString("pipelineInput", p.PipelineInput);
        w.WriteAttributeString("position", position >= 0 ? position.ToString(System.Globalization.CultureInfo.InvariantCulture) : "named");
        w.WriteAttributeString("aliases", p.Aliases.Count > 0 ? string.Join(", ", p.Aliases) : "none");
        w.WriteElementString("maml", "name", Maml, p.Name);
        Description(w, help?.Description ?? new List<string>());
        string shortType = ParameterMetadataInfo.ShortName(p.Type);
        if (p.ValidValues.Count > 0 && inSyntax)
        {
            w.WriteStartElement("command", "parameterValueGroup", Command);
            foreach (var v in p.ValidValues)
            {
                w.WriteStartElement("command", "parameterValue", Command);
                w.WriteAttributeString("required", "false");
                w.WriteAttributeString("command", "variableLength", Command, "false");
                w.WriteString(v);
                w.WriteEndElement();
            }
            w.WriteEndElement();
        }
        if (!p.IsSwitch)
        {
            w.WriteStartElement("command", "parameterValue", Command);
            w.WriteAttributeString("required", "true");
            w.WriteAttributeString("variableLength", p.Type.IsArray ? "true" : "false");
            w.WriteString(shortType);
            w.WriteEndElement();
        }
        w.WriteStartElement("dev", "type", Dev);
        w.WriteElementString("maml", "name", Maml, shortType);
        w.WriteElementString("maml", "uri", Maml, "");
        w.WriteEndElement();
        w.WriteElementString("dev", "defaultValue", Dev, help?.DefaultValue ?? (p.IsSwitch ? "False" : "None"));
        w.WriteEndElement();
    }

    private static void TypeElement(XmlWriter w, string typeName)
    {
        w.WriteStartElement("dev", "type", Dev);
        w.WriteElementString("maml", "name", Maml, typeName);
        w.WriteEndElement();
    }

    private static void Description(XmlWriter w, IEnumerable<string> paragraphs)
    {
        w.WriteStartElement("maml", "description", Maml);
        foreach (var p in paragraphs) w.WriteElementString("maml", "para", Maml, p);
        w.WriteEndElement();
    }
}
