// Types for the portal's operations, generated from the committed contract
// (schema/schema.graphql): no server is needed, and an operation the contract no longer
// admits fails the build.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../schema/schema.graphql",
  documents: "src/operations/*.graphql",
  generates: {
    "src/generated/graphql.ts": {
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        documentMode: "string",
        enumsAsTypes: true,
        onlyOperationTypes: true,
        avoidOptionals: { field: true, inputValue: false, object: true },
        scalars: { DateTime: "string", Date: "string", JSON: "unknown" },
        useTypeImports: true,
      },
    },
  },
  silent: true,
};

export default config;
