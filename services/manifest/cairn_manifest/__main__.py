from cairn_shared.service import serve

from cairn_manifest.bootstrap import create_app


def main() -> None:
    serve("manifest", create_app)


if __name__ == "__main__":
    main()
