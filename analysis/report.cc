// `geotrain report`: which folder it is, and the HTML document around the page (style, and a
// self-check script that marks the page when every SVG drew; the page needs no script to show).
#include "analysis/report.h"

#include <filesystem>

#include "analysis/json_file.h"
#include "analysis/report_pages.h"
#include "analysis/report_svg.h"

namespace geotrain::analysis {
namespace {

namespace fs = std::filesystem;

// Nothing may load from anywhere: a resource load, or script outside the page, is a console error.
constexpr const char* kContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'";

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#222;background:#fff;margin:0}
main{max-width:1080px;margin:0 auto;padding:12px 24px 48px}
h1{font-size:22px;margin:10px 0 2px}
h2{font-size:17px;margin:30px 0 10px;padding-bottom:4px;border-bottom:1px solid #ddd}
.sub{color:#555;margin:0 0 8px}
code{font-size:12px;background:#f3f4f6;padding:1px 4px;border-radius:3px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:8px}
.facts div{background:#f6f7f9;border-radius:6px;padding:6px 10px}
.facts span{display:block;color:#555;font-size:12px}
.facts b{font-size:15px;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:18px 24px;margin:6px 0 14px}
figure{margin:0;flex:1 1 460px;min-width:0}
figure.wide{flex-basis:100%;margin:6px 0 12px}
.charts figure:last-child:nth-child(odd):not(:first-child){flex-grow:0;flex-basis:calc(50% - 12px)}
figcaption{font-weight:600;margin:2px 0 4px}
svg{width:100%;height:auto;display:block}
svg text{font-family:inherit}
.tick{font-size:11px;fill:#444}
.axis{font-size:12px;fill:#222}
.label,.value{font-size:12px;fill:#222}
.grid{stroke:#e8e8e8}
.frame{fill:none;stroke:#999}
.line{fill:none;stroke-width:2;stroke-linejoin:round}
.line.dash{stroke-dasharray:6 4;stroke-width:1.5}
.ref{stroke:#555;stroke-dasharray:4 4}
.pareto{fill:none;stroke:#000;stroke-width:2}
.idle{fill:#eef0f3}
.edge path{fill:none;stroke:#0072B2;stroke-opacity:.7}
.edge path.head{fill:#0072B2;fill-opacity:.9;stroke:none}
.edge.free path{stroke:#999;stroke-dasharray:5 4}
.edge.free path.head{fill:#999}
.node{fill:#333}
.region{font-size:13px;font-weight:600;fill:#222}
.inside{font-size:11px;font-weight:400;fill:#555}
.edge-label{font-size:11px;fill:#0b3d66}
.halo{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}
.legend{display:flex;flex-wrap:wrap;gap:2px 16px;font-size:12px;color:#333;margin:0 0 4px}
.sw{display:inline-block;width:18px;height:0;border-top:3px solid var(--c);margin-right:5px;vertical-align:middle}
.sw.dash{border-top-style:dashed}
.sw.dot{width:9px;height:9px;border:0;border-radius:50%;background:var(--c)}
.sw.box{width:12px;height:12px;border:0;background:var(--c)}
.note{color:#666;font-size:12px;margin:4px 0}
.empty{color:#666;font-style:italic;padding:14px;border:1px dashed #ccc;background:#fafafa;margin:6px 0}
table{border-collapse:collapse;font-size:13px;margin:8px 0;max-width:100%}
th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f6f7f9}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.sum td{font-weight:600;border-top:1px solid #ccc}
tr.front td{background:#fff8e6}
td.id{white-space:nowrap;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
)";

// Collects uncaught errors; the check at the end of the page reports them and whether every SVG drew.
constexpr const char* kErrorCollector =
    "<script>window.geotrainErrors=[];window.addEventListener('error',function(e){window.geotrainErrors.push(String(e.message));});"
    "</script>";
constexpr const char* kSelfCheck = R"(<script>
(function () {
  var svgs = document.querySelectorAll('svg'), drawn = 0;
  for (var i = 0; i < svgs.length; i++) { var b = svgs[i].getBBox(); if (b.width > 0 && b.height > 0) drawn++; }
  document.body.setAttribute('data-svg-count', String(svgs.length));
  document.body.setAttribute('data-svg-drawn', String(drawn));
  document.body.setAttribute('data-js-errors', String(window.geotrainErrors.length));
})();
</script>)";

std::string document(const report::Page& page) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  html += std::string("<meta http-equiv=\"Content-Security-Policy\" content=\"") + kContentSecurityPolicy + "\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<title>geotrain report: " + report::escape(page.title) + "</title>\n";
  html += std::string("<style>") + kStyle + "</style>\n" + kErrorCollector + "\n</head>\n<body><main>\n";
  html += page.body;
  html += std::string("\n</main>\n") + kSelfCheck + "\n</body></html>\n";
  return html;
}

}  // namespace

std::string report_html(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw_input_error(dir, "", "", (ec && ec != std::errc::no_such_file_or_directory ? ec.message() + ": " : std::string("no such folder: ")) +
                                       "expected a run folder or a sweep folder");
  if (fs::exists(fs::path(dir) / "results.json")) return document(report::run_page(dir));
  // A replica set (geotrain run --replicas): draw 0, the plain run, with the spread over the draws.
  if (fs::exists(fs::path(dir) / "replicas.json"))
    return document(report::run_page((fs::path(dir) / "replicas" / "0").string(), (fs::path(dir) / "replicas.json").string()));
  if (fs::exists(fs::path(dir) / "sweep.csv")) return document(report::sweep_page(dir));
  if (fs::is_directory(fs::path(dir) / "points"))
    throw_input_error((fs::path(dir) / "sweep.csv").string(), "", "missing",
                      "a sweep folder needs sweep.csv, written when geotrain sweep finishes");
  throw_input_error(dir, "", "", "holds no results: expected results.json (a run folder) or sweep.csv (a sweep folder)");
}

std::string write_report(const std::string& dir) {
  const std::string html = report_html(dir);
  const std::string file = (fs::path(dir) / "report.html").string();
  write_text_atomically(file, html);
  return file;
}

}  // namespace geotrain::analysis
