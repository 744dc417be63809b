-- MariaDB sample schema captured by Debezium (connector: scripts/infra-lib/connectors/inventory-mariadb.json),
-- the same tables as the PostgreSQL one (inventory.sql) plus one with the MySQL-family column types.
-- Run once, by scripts/infra, inside the database `inventory` it creates.

CREATE TABLE customers (
  id         INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  first_name VARCHAR(255) NOT NULL,
  last_name  VARCHAR(255) NOT NULL,
  email      VARCHAR(255) NOT NULL UNIQUE
);

CREATE TABLE products (
  id          INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name        VARCHAR(255) NOT NULL,
  description VARCHAR(512),
  price_cents INT NOT NULL CHECK (price_cents >= 0)
);

CREATE TABLE orders (
  id          INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id INT NOT NULL,
  product_id  INT NOT NULL,
  quantity    INT NOT NULL CHECK (quantity > 0),
  ordered_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  FOREIGN KEY (customer_id) REFERENCES customers (id),
  FOREIGN KEY (product_id) REFERENCES products (id)
);

-- One column of each type whose Debezium rendering matters for key text.
CREATE TABLE type_samples (
  id        BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  active    TINYINT(1) NOT NULL,
  price     DECIMAL(12, 4) NOT NULL,
  placed_at DATETIME NOT NULL,
  size      ENUM('small', 'medium', 'large') NOT NULL,
  attrs     JSON,
  counter   BIGINT UNSIGNED NOT NULL
);

INSERT INTO customers (first_name, last_name, email) VALUES
  ('Sally', 'Thomas', 'sally.thomas@acme.com'),
  ('George', 'Bailey', 'gbailey@foobar.com'),
  ('Edward', 'Walker', 'ed@walker.com'),
  ('Anne', 'Kretchmar', 'annek@noanswer.org');

INSERT INTO products (name, description, price_cents) VALUES
  ('scooter', 'Small 2-wheel scooter', 314),
  ('car battery', '12V car battery', 810),
  ('hammer', '12oz carpenter''s hammer', 875),
  ('rocks', 'box of assorted rocks', 530);

INSERT INTO orders (customer_id, product_id, quantity) VALUES
  (1, 1, 1),
  (2, 3, 2),
  (3, 2, 1),
  (4, 4, 3);

INSERT INTO type_samples (id, active, price, placed_at, size, attrs, counter) VALUES
  (18446744073709551615, 1, 1234.5000, '2024-02-29 13:45:10', 'large', '{"color": "red", "tags": [1, 2]}', 9223372036854775808);
