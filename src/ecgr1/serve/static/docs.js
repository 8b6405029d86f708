"use strict";
// Renders /openapi.json as a plain list of operations, parameters and responses.
function el(tag, text, cls) { const e = document.createElement(tag); if (text) e.textContent = text; if (cls) e.className = cls; return e; }

function schemaOf(spec, schema) {
  if (schema && schema.$ref) return spec.components.schemas[schema.$ref.split("/").pop()] || {};
  return schema || {};
}

document.addEventListener("DOMContentLoaded", async () => {
  const root = document.getElementById("api");
  const spec = await (await fetch("/openapi.json")).json();
  root.textContent = "";
  root.appendChild(el("p", `${spec.info.title} ${spec.info.version}: ${spec.info.description || ""}`));
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const section = el("section");
      section.appendChild(el("h2", `${method.toUpperCase()} ${path}`));
      if (op.summary) section.appendChild(el("p", op.summary));
      if (op.description) section.appendChild(el("p", op.description, "muted"));
      const content = op.requestBody && op.requestBody.content;
      if (content) {
        for (const [type, body] of Object.entries(content)) {
          const schema = schemaOf(spec, body.schema);
          const table = el("table");
          const head = table.insertRow();
          for (const h of [`field (${type})`, "type", "description"]) head.appendChild(el("th", h));
          for (const [name, prop] of Object.entries(schema.properties || {})) {
            const row = table.insertRow();
            row.insertCell().textContent = name;
            row.insertCell().textContent = prop.type || (prop.anyOf || []).map((a) => a.type || a.format).join(" | ") || "";
            row.insertCell().textContent = prop.description || "";
          }
          section.appendChild(table);
        }
      }
      const list = el("ul");
      for (const [code, resp] of Object.entries(op.responses || {})) list.appendChild(el("li", `${code}: ${resp.description || ""}`));
      section.appendChild(list);
      root.appendChild(section);
    }
  }
});
