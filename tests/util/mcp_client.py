"""Drives `context mcp` over stdio with the official Python MCP SDK (`mcp` from PyPI), as an
MCP client does: one session, the calls given, their results printed as JSON.

    python3 mcp_client.py CONTEXT_BINARY < calls.json > results.json

`calls.json` is a list of calls: {"tool": NAME, "args": {...}}, {"list_tools": true},
{"list_resources": true} or {"read_resource": URI}. Each result is an object: for a tool,
{"is_error", "structured", "text"}; a call the server answers with a protocol error gives
{"protocol_error": MESSAGE}, and the session goes on.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main():
    calls = json.load(sys.stdin)
    params = StdioServerParameters(command=sys.argv[1], args=["mcp"], env=dict(os.environ))
    out = []
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out.append({"server": init.server_info.name})
            for call in calls:
                try:
                    if "list_tools" in call:
                        tools = await session.list_tools()
                        out.append({
                            "tools": [
                                {"name": t.name, "description": t.description or ""}
                                for t in tools.tools
                            ]
                        })
                    elif "list_resources" in call:
                        listed = await session.list_resources()
                        out.append({"resources": [str(r.uri) for r in listed.resources]})
                    elif "read_resource" in call:
                        read_back = await session.read_resource(call["read_resource"])
                        out.append({"text": read_back.contents[0].text})
                    else:
                        res = await session.call_tool(call["tool"], call.get("args", {}))
                        out.append({
                            "is_error": bool(res.is_error),
                            "structured": res.structured_content,
                            "text": "\n".join(
                                c.text for c in res.content if getattr(c, "text", None)
                            ),
                        })
                except Exception as e:  # a protocol error: said, and the session goes on
                    out.append({"protocol_error": str(e)})
    json.dump(out, sys.stdout)


asyncio.run(main())
