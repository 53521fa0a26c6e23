"""Turning a page of results into the contract's page body."""

from typing import Any

from app.services.views import Page, PageRequest


def page_request(args: dict[str, Any]) -> PageRequest:
    return PageRequest(page=args["page"], per_page=args["per_page"])


def page_body(name: str, page: Page[Any]) -> dict[str, Any]:
    return {
        name: page.items,
        "page": page.request.page,
        "per_page": page.request.per_page,
        "total": page.total,
        "total_pages": page.total_pages,
    }
