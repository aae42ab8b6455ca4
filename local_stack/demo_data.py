"""What the local stack starts with: a catalog priced in several currencies, and customers.

Exchange rates come from the recorded ECB feed (resources.prepare_billing_database).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.communications import Contact


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal
    currency: str
    stock: int

    def item(self) -> dict[str, Any]:
        """The inventory table's item (the catalog the web tier shows)."""
        return {
            "sku": self.sku,
            "name": self.name,
            "price": self.price,
            "currency": self.currency,
            "stock": self.stock,
        }


CATALOG = (
    Product("TEA-EARLGREY", "Earl Grey tea, 100 g", Decimal("4.50"), "EUR", 50),
    Product("MUG-BLUE", "Blue enamel mug", Decimal("12.00"), "EUR", 3),
    Product("TEA-OOLONG", "Oolong, 50 g", Decimal("7.80"), "EUR", 0),
    Product("TEA-MATCHA", "Matcha, 30 g", Decimal("1200"), "JPY", 5),
    Product("POT-IRON", "Cast-iron teapot", Decimal("39.00"), "GBP", 4),
    Product("KETTLE-GOOSE", "Gooseneck kettle", Decimal("64.99"), "USD", 6),
)

# Registered customers of the order API (the web storefront's guests need no row).
CONTACTS = (
    Contact("cust-0001", "Ada Lovelace", "ada@example.com"),
    Contact("cust-0002", "Charles Babbage", "charles@example.com"),
)


def load(inventory_table: Any, contacts: Any) -> None:
    """Put the catalog into the inventory table and the customers into the contact book."""
    for product in CATALOG:
        inventory_table.put_item(Item=product.item())
    for contact in CONTACTS:
        contacts.save_contact(contact)
