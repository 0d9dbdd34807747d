"""The provider catalog: endpoints, jurisdiction and prices, each price with source and date."""
