from cairn_shared.service import serve

from cairn_ingest.bootstrap import create_app


def main() -> None:
    serve("ingest", create_app)


if __name__ == "__main__":
    main()
