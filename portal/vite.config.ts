import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into ../static/portal/, which `credits serve` mounts at /portal when it exists.
// `npm run dev` serves the sources with hot reload and forwards the API (HTTP and
// WebSocket) to a `credits serve` on 127.0.0.1:8000.
export default defineConfig({
  base: "/portal/",
  plugins: [react()],
  build: {
    outDir: "../static/portal",
    emptyOutDir: true,
  },
  server: {
    proxy: {
      "/graphql": { target: "http://127.0.0.1:8000", ws: true },
      "/exports": "http://127.0.0.1:8000",
    },
  },
});
