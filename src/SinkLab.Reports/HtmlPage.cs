using System.Net;
using System.Text;

namespace SinkLab.Reports;

/// <summary>What every SinkLab HTML page shares: the head (style, and a script that records script errors and broken
/// images as body attributes, which the browser test reads) and embedded PNG figures.</summary>
internal static class HtmlPage
{
    /// <summary>Appends the doctype, head and its closing tag (the caller opens the body).</summary>
    public static void Head(StringBuilder sb, string title, int maxWidth)
    {
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(WebUtility.HtmlEncode(title)).Append("</title>\n");
        sb.Append($"<style>body{{font-family:system-ui,sans-serif;max-width:{maxWidth}px;margin:2em auto;padding:0 1em;color:#222}}")
          .Append("img{max-width:100%;border:1px solid #ddd}table{border-collapse:collapse;margin:1em 0}")
          .Append("td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}figcaption{color:#555;font-size:.9em}</style>\n");
        sb.Append("<script>window.sinklabErrors=[];window.addEventListener('error',function(e){window.sinklabErrors.push(String(e.message||e));},true);")
          .Append("window.addEventListener('load',function(){var bad=0;var imgs=document.images;for(var i=0;i<imgs.length;i++){if(!imgs[i].complete||imgs[i].naturalWidth===0)bad++;}")
          .Append("document.body.setAttribute('data-images',String(imgs.length));document.body.setAttribute('data-broken-images',String(bad));")
          .Append("document.body.setAttribute('data-errors',String(window.sinklabErrors.length));});</script>\n");
    }

    /// <summary>Appends each image as an embedded PNG with its caption.</summary>
    public static void Figures(StringBuilder sb, IEnumerable<(string File, string Caption, byte[] Png)> images)
    {
        foreach (var (file, caption, png) in images)
        {
            sb.Append("<figure><img alt=\"").Append(WebUtility.HtmlEncode(caption)).Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(png)).Append("\">");
            sb.Append("<figcaption>").Append(WebUtility.HtmlEncode(caption)).Append(" (").Append(WebUtility.HtmlEncode(file)).Append(")</figcaption></figure>\n");
        }
    }
}
